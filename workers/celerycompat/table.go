package celerycompat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

// encodeTable writes AMQP headers as JSON for a parked message. Celery's
// headers are strings, numbers, booleans, None, lists and tables, which JSON
// holds; integers come back as int64 and other numbers as float64.
func encodeTable(t amqp.Table) (json.RawMessage, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode headers: %w", err)
	}
	return b, nil
}

func decodeTable(raw json.RawMessage) (amqp.Table, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode headers: %w", err)
	}
	t, _ := fromJSON(m).(amqp.Table)
	if t == nil {
		t = amqp.Table{}
	}
	return t, nil
}

func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if !strings.ContainsAny(x.String(), ".eE") {
			if i, err := x.Int64(); err == nil {
				return i
			}
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromJSON(e)
		}
		return out
	case map[string]any:
		out := amqp.Table{}
		for k, e := range x {
			out[k] = fromJSON(e)
		}
		return out
	default:
		return v
	}
}
