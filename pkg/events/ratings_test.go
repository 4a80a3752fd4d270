package events

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExternalIDAcceptsStringsAndIntegers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want ExternalID
		ok   bool
	}{
		{`"abc"`, "abc", true}, {`42`, "42", true}, {`-7`, "-7", true}, {`""`, "", true},
		{`4.5`, "", false}, {`1e3`, "", false}, {`true`, "", false}, {`{}`, "", false}, {`[1]`, "", false},
	} {
		var v struct {
			ID ExternalID `json:"id"`
		}
		err := json.Unmarshal([]byte(`{"id":`+tc.in+`}`), &v)
		if !tc.ok {
			var te *json.UnmarshalTypeError
			require.ErrorAs(t, err, &te, tc.in)
			require.Equal(t, "id", te.Field, "the decoder names the field")
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, v.ID, tc.in)
	}
}
