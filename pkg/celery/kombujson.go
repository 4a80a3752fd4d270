package celery

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Kombu ≥ 5.3 encodes non-JSON types as {"__type__": marker, "__value__": v}
// (kombu/utils/json.py). These are its markers.
const (
	kombuDatetime = "datetime" // datetime.isoformat()
	kombuDate     = "date"     // date.isoformat()
	kombuTime     = "time"     // time.isoformat()
	kombuDecimal  = "decimal"  // str(Decimal)
	kombuUUID     = "uuid"     // {"hex": …, "version": n}
	kombuBytes    = "bytes"    // bytes decoded as UTF-8
	kombuBase64   = "base64"   // bytes that are not UTF-8, base64
)

// Decimal is a decimal number kept as its exact text. Marshal emits it as
// kombu's decimal wrapper; Unmarshal hands decimals over as their text.
type Decimal string

// Unmarshal decodes JSON that may contain kombu type wrappers into v. Every
// wrapper is first replaced by the plain JSON that kombu < 5.3 sent for the
// same Python value, so a handler sees one shape whichever kombu the client
// runs:
//   - datetime: an RFC 3339 string (naive values are taken as UTC), so it
//     decodes into a time.Time field;
//   - date ("2024-06-19") and time ("19:23:24.611430"): the isoformat string;
//   - decimal: its exact text, as a string;
//   - uuid: the canonical 36-character string;
//   - bytes: the text; base64: the base64 string, so it decodes into []byte.
//
// Decoding into *any yields json.Number for numbers (no float rounding of
// large ids). An unknown marker is an error, as it is for kombu.
func Unmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("decode json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("decode json: trailing data after the value")
	}
	plain, err := unwrap(raw)
	if err != nil {
		return err
	}
	if p, ok := v.(*any); ok {
		*p = plain
		return nil
	}
	b, err := json.Marshal(plain)
	if err != nil {
		return fmt.Errorf("re-encode json: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode json: %w", err)
	}
	return nil
}

// unwrap replaces every kombu wrapper inside v (as decoded with UseNumber).
func unwrap(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			u, err := unwrap(e)
			if err != nil {
				return nil, err
			}
			out[i] = u
		}
		return out, nil
	case map[string]any:
		if marker, value, ok := wrapper(x); ok {
			return unwrapValue(marker, value)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			u, err := unwrap(e)
			if err != nil {
				return nil, err
			}
			out[k] = u
		}
		return out, nil
	default:
		return v, nil
	}
}

// wrapper reports whether m is exactly {"__type__": string, "__value__": …},
// the test kombu's object_hook applies.
func wrapper(m map[string]any) (marker string, value any, ok bool) {
	if len(m) != 2 {
		return "", nil, false
	}
	t, hasType := m["__type__"]
	value, hasValue := m["__value__"]
	marker, isString := t.(string)
	return marker, value, hasType && hasValue && isString
}

func unwrapValue(marker string, value any) (any, error) {
	bad := func() error { return fmt.Errorf("kombu %s wrapper: unexpected value %v", marker, value) }
	s, isString := value.(string)
	switch marker {
	case kombuDatetime:
		if !isString {
			return nil, bad()
		}
		t, err := ParseTime(s)
		if err != nil {
			return nil, fmt.Errorf("kombu datetime wrapper: %w", err)
		}
		return t.Format(time.RFC3339Nano), nil
	case kombuDate, kombuTime, kombuDecimal, kombuBytes:
		if !isString {
			return nil, bad()
		}
		return s, nil
	case kombuBase64:
		if !isString {
			return nil, bad()
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("kombu base64 wrapper: %w", err)
		}
		return s, nil
	case kombuUUID:
		m, ok := value.(map[string]any)
		if !ok {
			return nil, bad()
		}
		h, _ := m["hex"].(string)
		id, err := uuid.Parse(h)
		if err != nil {
			return nil, fmt.Errorf("kombu uuid wrapper: %w", err)
		}
		return id.String(), nil
	default:
		return nil, fmt.Errorf("kombu wrapper: unsupported type %q", marker)
	}
}

// Marshal encodes v as JSON the way kombu ≥ 5.3 does: time.Time becomes a
// datetime wrapper, uuid.UUID a uuid wrapper, Decimal a decimal wrapper and
// []byte a bytes (UTF-8) or base64 wrapper, anywhere inside []any and
// map[string]any. Other values (structs included) are encoded by
// encoding/json unchanged.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(wrap(v))
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return b, nil
}

func wrap(v any) any {
	switch x := v.(type) {
	case time.Time:
		return kombuWrapper{kombuDatetime, pythonISO(x)}
	case uuid.UUID:
		return kombuWrapper{kombuUUID, map[string]any{"hex": hex.EncodeToString(x[:]), "version": int(x.Version())}}
	case Decimal:
		return kombuWrapper{kombuDecimal, string(x)}
	case []byte:
		if utf8.Valid(x) {
			return kombuWrapper{kombuBytes, string(x)}
		}
		return kombuWrapper{kombuBase64, base64.StdEncoding.EncodeToString(x)}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = wrap(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = wrap(e)
		}
		return out
	default:
		return v
	}
}

type kombuWrapper struct {
	Type  string `json:"__type__"`
	Value any    `json:"__value__"`
}

// pythonISO keeps t's own offset, as datetime.isoformat() does.
func pythonISO(t time.Time) string { return t.Format("2006-01-02T15:04:05.000000-07:00") }
