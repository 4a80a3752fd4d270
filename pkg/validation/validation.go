// Package validation holds the one error type every domain returns for bad
// input, so each entry point maps it once: REST to a 422 problem with the
// per-field list, a consumer to a permanent failure, a Celery task to a
// ValueError. It is never worth retrying.
package validation

import "strings"

// Field is one invalid field of an input, by its JSON name.
type Field struct {
	Field   string
	Message string
}

// Error lists every invalid field of one input. Subject names the input in
// the message ("payment request", "review", …).
type Error struct {
	Subject string
	Fields  []Field
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	subject := e.Subject
	if subject == "" {
		subject = "input"
	}
	return "invalid " + subject + ": " + strings.Join(parts, "; ")
}
