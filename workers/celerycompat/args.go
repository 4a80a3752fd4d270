package celerycompat

import (
	"encoding/json"
	"fmt"
	"strings"

	"fundigo/pkg/celery"
)

// signature checks m's arguments against a Python signature with the given
// parameter names, all required, as Python does when it calls the task:
// too many positional arguments, unknown keywords or a missing argument are
// a TypeError (not retried).
func signature(m *celery.Message, params ...string) error {
	fn := m.Task[strings.LastIndex(m.Task, ".")+1:] + "()"
	if len(m.Args) > len(params) {
		return celery.TypeError(fmt.Sprintf("%s takes %d positional arguments but %d were given", fn, len(params), len(m.Args)))
	}
	known := map[string]int{}
	for i, p := range params {
		known[p] = i
	}
	for k := range m.Kwargs {
		i, ok := known[k]
		if !ok {
			return celery.TypeError(fmt.Sprintf("%s got an unexpected keyword argument '%s'", fn, k))
		}
		if i < len(m.Args) {
			return celery.TypeError(fmt.Sprintf("%s got multiple values for argument '%s'", fn, k))
		}
	}
	for i, p := range params {
		if _, ok := m.Arg(i, p); !ok {
			return celery.TypeError(fmt.Sprintf("%s missing required argument: '%s'", fn, p))
		}
	}
	return nil
}

// arg decodes argument i (or keyword name) into v; a value of the wrong type
// is a TypeError. Call signature first.
func arg(m *celery.Message, i int, name string, v any) error {
	raw, _ := m.Arg(i, name)
	if err := celery.Unmarshal(raw, v); err != nil {
		return celery.TypeError(fmt.Sprintf("argument '%s': %v", name, err))
	}
	return nil
}

// idArg reads an id that Django may pass as an int (a primary key) or a
// string (a UUID): it returns its text.
func idArg(m *celery.Message, i int, name string) (string, error) {
	var v any
	if err := arg(m, i, name, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case json.Number:
		return x.String(), nil
	case string:
		if strings.TrimSpace(x) == "" {
			return "", celery.ValueError(fmt.Sprintf("argument '%s' must not be empty", name))
		}
		return x, nil
	default:
		return "", celery.TypeError(fmt.Sprintf("argument '%s' must be an int or a str", name))
	}
}
