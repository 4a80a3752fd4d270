package notification

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"fundigo/pkg/expo"
	"fundigo/pkg/validation"
)

// Limits of a notification request. Texts are measured in bytes, as the
// push providers measure them; and whatever the fields, the rendered push
// must fit expo.MaxPayloadBytes (4096, APNs' and FCM's limit too).
const (
	MaxUsers         = 10000
	MaxUserIDLen     = 128
	MaxTitle         = 200  // bytes
	MaxBody          = 2000 // bytes
	MaxDataBytes     = 3072 // bytes of JSON
	MaxParams        = 20
	MaxParamsBytes   = 2048 // bytes of JSON
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
	"payout_sent":         {"amount", "job_id", "receipt"},
}

// FieldError is one invalid field of an input.
type FieldError = validation.Field

// ValidationError lists every invalid field of an input (the one type every
// domain uses): 422, a permanent failure or a Celery ValueError; never worth
// retrying.
type ValidationError = validation.Error

// fields collects field errors.
type fields []FieldError

func (f *fields) add(field, msg string) { *f = append(*f, FieldError{Field: field, Message: msg}) }

func (f fields) err() error {
	if len(f) == 0 {
		return nil
	}
	return &ValidationError{Subject: "notification input", Fields: f}
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
			names := slices.Sorted(maps.Keys(requiredParams))
			f.add("template", "unknown template; the templates are "+strings.Join(names, ", "))
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
	if len(r.Params) > MaxParams {
		f.add("params", fmt.Sprintf("at most %d params", MaxParams))
	} else if b, _ := json.Marshal(r.Params); len(b) > MaxParamsBytes {
		f.add("params", fmt.Sprintf("at most %d bytes of JSON", MaxParamsBytes))
	}
	if len(r.Title) > MaxTitle {
		f.add("title", fmt.Sprintf("at most %d bytes", MaxTitle))
	}
	if len(r.Body) > MaxBody {
		f.add("body", fmt.Sprintf("at most %d bytes", MaxBody))
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
	if len(f) == 0 {
		if msg := checkPayload(*r); msg != "" {
			f.add("payload", msg)
		}
	}
	return f.err()
}

// defaultTemplates are the embedded templates, parsed once.
var defaultTemplates = sync.OnceValues(LoadTemplates)

// checkPayload renders r once per locale, as the pipeline will, and
// reports why it cannot be pushed: a push whose payload exceeds Expo's limit
// would be refused (MessageTooBig) for every device, after being accepted,
// stored and published. The recipient's token is not part of the payload,
// so one render per locale stands for every device.
func checkPayload(r Request) string {
	t, err := defaultTemplates()
	if err != nil {
		return "" // the pipeline reports unusable templates; nothing to judge here
	}
	n := Notification{Request: r}
	rd := newRenderer(t, n)
	for _, loc := range locales {
		c, err := rd.render(loc)
		if err != nil {
			return "cannot be rendered with these params"
		}
		size, err := expoMessage(n, Delivery{}, c).PayloadSize()
		if err != nil {
			return "cannot be encoded as JSON"
		}
		if size > expo.MaxPayloadBytes {
			return fmt.Sprintf("the rendered push (%s) is %d bytes; push providers accept at most %d", loc, size, expo.MaxPayloadBytes)
		}
	}
	return ""
}
