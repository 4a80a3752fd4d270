package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"fundigo/pkg/validation"
)

// Remote enqueue (POST /v1/tasks): the task types a client may enqueue by
// name. A type opts in with an entry in remoteTypes, which fixes its queue,
// its retry policy and how its payload is checked; every other type (an STK
// Push, a push send, a full recompute) has its own domain endpoint that
// records what the task needs first, and is refused here. Each type's
// payload schema is also in the OpenAPI document (api/openapi.yaml,
// EnqueueTask), and a test keeps the two lists equal.

// remoteType is one type clients may enqueue.
type remoteType struct {
	queue    func(Queues) string
	maxRetry int
	timeout  time.Duration
	// check validates the decoded payload (unknown fields are already
	// refused) and returns the field problems.
	check func(raw json.RawMessage) []validation.Field
}

var remoteTypes = map[string]remoteType{
	TypeRatingsRecomputeTechnician: {
		queue: func(q Queues) string { return q.Default }, maxRetry: 10, timeout: time.Minute,
		check: func(raw json.RawMessage) []validation.Field {
			var p RecomputeTechnicianPayload
			if f := strictDecode(raw, &p); f != nil {
				return f
			}
			if p.TechnicianID == "" || len(p.TechnicianID) > 128 {
				return []validation.Field{{Field: "payload.technician_id", Message: "required, 1 to 128 characters"}}
			}
			return nil
		},
	},
	TypeMaintenanceCleanup: {
		queue: func(q Queues) string { return q.Low }, maxRetry: 3, timeout: 30 * time.Minute,
		check: func(raw json.RawMessage) []validation.Field {
			var p MaintenanceCleanupPayload
			if f := strictDecode(raw, &p); f != nil {
				return f
			}
			for _, r := range p.Rules {
				if !slices.Contains(CleanupRules(), r) {
					return []validation.Field{{Field: "payload.rules", Message: "each must be one of " + strings.Join(CleanupRules(), ", ")}}
				}
			}
			return nil
		},
	},
	TypePaymentsReconcile: {
		queue: func(q Queues) string { return q.Critical }, maxRetry: 3, timeout: 5 * time.Minute,
		check: emptyPayload,
	},
	TypePushReceipts: {
		queue: func(q Queues) string { return q.Default }, maxRetry: 3, timeout: 5 * time.Minute,
		check: emptyPayload,
	},
}

// RemoteTypes lists the task types POST /v1/tasks accepts, sorted.
func RemoteTypes() []string {
	out := make([]string, 0, len(remoteTypes))
	for t := range remoteTypes {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Queue names a client may ask for, mapped onto the configured queues.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// RemoteRequest is the body of POST /v1/tasks.
type RemoteRequest struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
	// RunAt delays the task (at most MaxRunAtAhead ahead; a past time runs now).
	RunAt *time.Time `json:"run_at,omitempty"`
	// UniqueFor refuses an identical task (type and payload, same queue)
	// for this many seconds (ErrDuplicate).
	UniqueFor int `json:"unique_for,omitempty"`
	// Queue is critical, default or low; empty means the type's own.
	Queue string `json:"queue,omitempty"`
}

// Bounds of RemoteRequest.
const (
	MaxRunAtAhead = 7 * 24 * time.Hour
	MaxUniqueFor  = 24 * 60 * 60
	MaxPayload    = 16 << 10
)

// Remote is an accepted remote enqueue.
type Remote struct {
	ID, Type, Queue string
	RunAt           *time.Time
}

// ErrDuplicate: an identical task was enqueued within its unique_for.
var ErrDuplicate = errors.New("an identical task is already enqueued (unique_for)")

// EnqueueRemote checks r and enqueues it as task id (the caller's, so a
// retried request can name the same task). Every invalid field is reported
// at once as a *validation.Error; an unknown type's message lists the types
// that may be enqueued. The task's result is kept for a day so
// GET /v1/tasks/{id} can report it after it ran.
func EnqueueRemote(ctx context.Context, c *asynq.Client, q Queues, id string, r RemoteRequest, now time.Time) (Remote, error) {
	var fields []validation.Field
	add := func(f, m string) { fields = append(fields, validation.Field{Field: f, Message: m}) }
	rt, ok := remoteTypes[r.Type]
	if !ok {
		add("type", "must be one of "+strings.Join(RemoteTypes(), ", ")+" (other tasks have their own endpoints)")
	}
	if len(r.Payload) > MaxPayload {
		add("payload", fmt.Sprintf("at most %d bytes", MaxPayload))
	} else if ok {
		fields = append(fields, rt.check(r.Payload)...)
	}
	queue := ""
	switch r.Queue {
	case "":
		if ok {
			queue = rt.queue(q)
		}
	case QueueCritical:
		queue = q.Critical
	case QueueDefault:
		queue = q.Default
	case QueueLow:
		queue = q.Low
	default:
		add("queue", "must be critical, default or low")
	}
	if r.UniqueFor < 0 || r.UniqueFor > MaxUniqueFor {
		add("unique_for", fmt.Sprintf("must be from 1 to %d seconds", MaxUniqueFor))
	}
	if r.RunAt != nil && r.RunAt.After(now.Add(MaxRunAtAhead)) {
		add("run_at", "at most 7 days ahead")
	}
	if len(fields) > 0 {
		return Remote{}, &validation.Error{Subject: "task", Fields: fields}
	}
	payload := compactPayload(r.Payload)
	opts := []asynq.Option{asynq.Queue(queue), asynq.TaskID(id), asynq.MaxRetry(rt.maxRetry),
		asynq.Timeout(rt.timeout), asynq.Retention(24 * time.Hour)}
	out := Remote{ID: id, Type: r.Type, Queue: queue}
	if r.RunAt != nil && r.RunAt.After(now) {
		at := r.RunAt.UTC()
		opts = append(opts, asynq.ProcessAt(at))
		out.RunAt = &at
	}
	if r.UniqueFor > 0 {
		opts = append(opts, asynq.Unique(time.Duration(r.UniqueFor)*time.Second))
	}
	_, err := c.EnqueueContext(ctx, New(ctx, r.Type, payload), opts...)
	switch {
	case errors.Is(err, asynq.ErrDuplicateTask):
		return Remote{}, ErrDuplicate
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return out, nil // the same request, retried: the task exists
	case err != nil:
		return Remote{}, fmt.Errorf("enqueue %s task %s: %w", r.Type, id, err)
	}
	return out, nil
}

// strictDecode decodes a payload object, refusing unknown fields, and
// reports a problem as payload field errors (nil: decoded).
func strictDecode(raw json.RawMessage, v any) []validation.Field {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := "must be an object of this type's fields"
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return []validation.Field{{Field: "payload." + strings.Trim(name, `"`), Message: "unknown field"}}
		}
		return []validation.Field{{Field: "payload", Message: msg}}
	}
	return nil
}

func emptyPayload(raw json.RawMessage) []validation.Field {
	var p struct{}
	return strictDecode(raw, &p)
}

// compactPayload is the payload as the task carries it: compact JSON, so
// unique_for compares by content, not spacing; "{}" when empty.
func compactPayload(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if len(bytes.TrimSpace(raw)) == 0 || json.Compact(&b, raw) != nil || b.String() == "null" {
		return []byte("{}")
	}
	return b.Bytes()
}
