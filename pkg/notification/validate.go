package notification

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits of a notification request.
const (
	MaxUsers         = 10000
	MaxUserIDLen     = 128
	MaxTitle         = 200
	MaxBody          = 2000
	MaxDataBytes     = 3072 // the whole push payload is limited to 4 KiB
	MaxCategoryLen   = 64
	MaxCollapseIDLen = 64
)

// requiredParams lists the templates (templates/<locale>.json) and the
// params each one requires; a test keeps the two in step.
var requiredParams = map[string][]string{
	"payment_received":    {"amount", "receipt"},
	"payment_failed":      {"amount", "reason"},
	"job_funded":          {"amount", "job_id"},
	"job_assigned":        {"job_id"},
	"technician_en_route": {"job_id"},
	"review_received":     {"rating"},
}

// FieldError is one invalid field of an input.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every invalid field of an input. Entry points map
// it to their way of refusing bad input (422, a permanent failure, a Celery
// ValueError); it is never worth retrying.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid notification input: " + strings.Join(parts, "; ")
}

// fields collects field errors.
type fields []FieldError

func (f *fields) add(field, msg string) { *f = append(*f, FieldError{Field: field, Message: msg}) }

func (f fields) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Fields: f}
}

// Validate checks a notification request, whichever way it arrived (REST,
// event, Celery task, a payment event), and normalizes it in place: user
// ids trimmed and deduplicated, priority defaulted to normal. It returns a
// *ValidationError.
func Validate(r *Request) error {
	var f fields
	if _, err := uuid.Parse(r.ID); err != nil {
		f.add("id", "must be a UUID")
	}
	if len(r.UserIDs) < 1 || len(r.UserIDs) > MaxUsers {
		f.add("user_ids", fmt.Sprintf("between 1 and %d user ids", MaxUsers))
	}
	seen := make(map[string]bool, len(r.UserIDs))
	ids := make([]string, 0, len(r.UserIDs))
	for _, id := range r.UserIDs {
		id = strings.TrimSpace(id)
		if id == "" || len(id) > MaxUserIDLen {
			f.add("user_ids", fmt.Sprintf("each user id must have 1 to %d characters", MaxUserIDLen))
			break
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	r.UserIDs = ids
	switch {
	case r.Template != "":
		if r.Title != "" || r.Body != "" {
			f.add("template", "give a template or a title/body, not both")
		}
		required, ok := requiredParams[r.Template]
		if !ok {
			f.add("template", "unknown template")
		}
		for _, p := range required {
			if _, ok := r.Params[p]; !ok {
				f.add("params."+p, "required by template "+r.Template)
			}
		}
	case r.Title == "" && r.Body == "":
		f.add("title", "a template or a title/body is required")
	}
	if r.Template == "" && len(r.Params) > 0 {
		f.add("params", "only used with a template")
	}
	if utf8.RuneCountInString(r.Title) > MaxTitle {
		f.add("title", fmt.Sprintf("at most %d characters", MaxTitle))
	}
	if utf8.RuneCountInString(r.Body) > MaxBody {
		f.add("body", fmt.Sprintf("at most %d characters", MaxBody))
	}
	if b, _ := json.Marshal(r.Data); len(b) > MaxDataBytes {
		f.add("data", "at most 3 KiB of JSON (the whole push payload is limited to 4 KiB)")
	}
	if len(r.Category) > MaxCategoryLen {
		f.add("category", fmt.Sprintf("at most %d characters", MaxCategoryLen))
	}
	switch r.Priority {
	case "":
		r.Priority = PriorityNormal
	case PriorityNormal, PriorityHigh:
	default:
		f.add("priority", "must be normal or high")
	}
	if len(r.CollapseID) > MaxCollapseIDLen {
		f.add("collapse_id", fmt.Sprintf("at most %d characters", MaxCollapseIDLen))
	}
	return f.err()
}
