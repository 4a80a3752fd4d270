package celery

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Meta is the document the Redis result backend stores under
// celery-task-meta-<id> (celery/backends/base.py _get_result_meta). Result is
// the task's return value for SUCCESS and an encoded [Exception] for
// FAILURE, RETRY and REVOKED. DateDone is set only for ready states.
type Meta struct {
	Status    State           `json:"status"`
	Result    json.RawMessage `json:"result"`
	Traceback *string         `json:"traceback"`
	Children  []any           `json:"children"`
	DateDone  *string         `json:"date_done"`
	TaskID    string          `json:"task_id"`
	GroupID   string          `json:"group_id,omitempty"`
	ParentID  string          `json:"parent_id,omitempty"`
}

// SuccessMeta is the result of a task that returned value (anything
// encoding/json can encode; kombu wrappers are emitted for time.Time,
// uuid.UUID, Decimal and []byte, see Marshal).
func SuccessMeta(m *Message, value any, now time.Time) (Meta, error) {
	b, err := Marshal(value)
	if err != nil {
		return Meta{}, fmt.Errorf("encode result of task %s: %w", m.ID, err)
	}
	return newMeta(m, StateSuccess, b, nil, now), nil
}

// ExceptionMeta is a FAILURE, RETRY or REVOKED result carrying exc.
func ExceptionMeta(m *Message, state State, exc *Exception, now time.Time) (Meta, error) {
	if exc == nil {
		return Meta{}, errors.New("exception meta: nil exception")
	}
	b, err := json.Marshal(exc)
	if err != nil {
		return Meta{}, fmt.Errorf("encode exception of task %s: %w", m.ID, err)
	}
	tb := exc.Traceback()
	return newMeta(m, state, b, &tb, now), nil
}

func newMeta(m *Message, state State, result json.RawMessage, tb *string, now time.Time) Meta {
	meta := Meta{Status: state, Result: result, Traceback: tb, Children: []any{}, TaskID: m.ID,
		GroupID: m.Group, ParentID: m.ParentID}
	if state.Ready() {
		d := FormatTime(now)
		meta.DateDone = &d
	}
	return meta
}

// Exception decodes Result as an exception (FAILURE, RETRY, REVOKED).
func (m Meta) Exception() (*Exception, error) {
	var e Exception
	if err := json.Unmarshal(m.Result, &e); err != nil || e.Type == "" {
		return nil, fmt.Errorf("task %s: result is not an encoded exception", m.TaskID)
	}
	return &e, nil
}
