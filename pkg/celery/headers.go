package celery

import (
	"fmt"
	"math"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Header names of protocol v2 that Message maps to fields. Every other
// header travels in Message.Extra.
const (
	HeaderTask         = "task"
	HeaderID           = "id"
	HeaderRetries      = "retries"
	HeaderETA          = "eta"
	HeaderExpires      = "expires"
	HeaderTimeLimit    = "timelimit"
	HeaderRootID       = "root_id"
	HeaderParentID     = "parent_id"
	HeaderGroup        = "group"
	HeaderShadow       = "shadow"
	HeaderIgnoreResult = "ignore_result"
	HeaderCompression  = "compression"
	HeaderLang         = "lang"
)

var knownHeaders = map[string]bool{
	HeaderTask: true, HeaderID: true, HeaderRetries: true, HeaderETA: true, HeaderExpires: true,
	HeaderTimeLimit: true, HeaderRootID: true, HeaderParentID: true, HeaderGroup: true,
	HeaderShadow: true, HeaderIgnoreResult: true,
}

// Header values arrive with the AMQP field types py-amqp chose: None is void
// (nil), str a long string, int an int32 or int64, float a double, list an
// array. These helpers accept every spelling and treat nil as absent.

func headerString(h amqp.Table, key string) (string, error) {
	switch v := h[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	default:
		return "", fmt.Errorf("header %s: want a string, got %T", key, v)
	}
}

func headerInt(h amqp.Table, key string) (int, error) {
	v := h[key]
	if v == nil {
		return 0, nil
	}
	f, ok := number(v)
	if !ok || f != math.Trunc(f) {
		return 0, fmt.Errorf("header %s: want an integer, got %v", key, v)
	}
	return int(f), nil
}

func headerBool(h amqp.Table, key string) (bool, error) {
	switch v := h[key].(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	default:
		return false, fmt.Errorf("header %s: want a boolean, got %T", key, v)
	}
}

func headerTime(h amqp.Table, key string) (time.Time, error) {
	s, err := headerString(h, key)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("header %s: %w", key, err)
	}
	return t, nil
}

// headerTimeLimit reads [hard, soft] in seconds, each possibly null. The
// protocol docs say (soft, hard) but Celery builds and unpacks
// [time_limit, soft_time_limit]; the code wins.
func headerTimeLimit(h amqp.Table) (TimeLimit, error) {
	var tl TimeLimit
	switch v := h[HeaderTimeLimit].(type) {
	case nil:
		return tl, nil
	case []any:
		if len(v) != 2 {
			return tl, fmt.Errorf("header timelimit: want [hard, soft], got %d items", len(v))
		}
		for i, d := range []*time.Duration{&tl.Hard, &tl.Soft} {
			if v[i] == nil {
				continue
			}
			f, ok := number(v[i])
			if !ok || f < 0 {
				return tl, fmt.Errorf("header timelimit: want seconds, got %v", v[i])
			}
			*d = time.Duration(f * float64(time.Second))
		}
		return tl, nil
	default:
		return tl, fmt.Errorf("header timelimit: want a list, got %T", v)
	}
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// nullable is a header value: nil for "", as Celery sends None.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullableTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return FormatTime(t)
}

func nullableSeconds(d time.Duration) any {
	if d == 0 {
		return nil
	}
	return d.Seconds()
}
