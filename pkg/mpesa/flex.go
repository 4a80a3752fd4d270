package mpesa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// FlexString decodes a JSON string or a JSON number into its text, because
// Daraja sends the same field either way: ResultCode is 0 in callbacks but
// "0" in query answers and "SFC_IC0003" in some real callbacks; metadata
// values arrive as 1500.00, "1500.00", 254708374149 or "254708374149".
// Numbers keep their literal text (1.00 stays "1.00", never 1 or 1e0), null
// and absence decode as "". Objects, arrays and booleans are an error.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexString) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return errors.New("mpesa: empty value")
	case bytes.Equal(data, []byte("null")):
		*f = ""
		return nil
	case data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("mpesa: decode string: %w", err)
		}
		*f = FlexString(s)
		return nil
	case data[0] == '-' || (data[0] >= '0' && data[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(data, &n); err != nil {
			return fmt.Errorf("mpesa: decode number: %w", err)
		}
		*f = FlexString(n.String())
		return nil
	default:
		return fmt.Errorf("mpesa: want string or number, got %.10q", data)
	}
}

// String returns the text.
func (f FlexString) String() string { return string(f) }
