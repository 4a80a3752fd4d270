package events

import (
	"encoding/json"
	"strings"
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

func TestReviewValidate(t *testing.T) {
	t.Parallel()
	valid := ReviewCreated{JobID: "j", TechnicianID: "t", CustomerID: "c", Rating: 3}
	for _, tc := range []struct {
		name   string
		mutate func(*ReviewCreated)
		fields []string
	}{
		{"valid", func(*ReviewCreated) {}, nil},
		{"rating 0", func(r *ReviewCreated) { r.Rating = 0 }, []string{"rating"}},
		{"rating 6", func(r *ReviewCreated) { r.Rating = 6 }, []string{"rating"}},
		{"blank ids", func(r *ReviewCreated) { r.JobID, r.TechnicianID, r.CustomerID = " ", "", "" },
			[]string{"job_id", "technician_id", "customer_id"}},
		{"long id", func(r *ReviewCreated) { r.JobID = ExternalID(strings.Repeat("x", 129)) }, []string{"job_id"}},
		{"NUL in id", func(r *ReviewCreated) { r.TechnicianID = "a\x00b" }, []string{"technician_id"}},
		{"2000 chars ok", func(r *ReviewCreated) { r.Comment = strings.Repeat("ñ", 2000) }, nil},
		{"2001 chars", func(r *ReviewCreated) { r.Comment = strings.Repeat("ñ", 2001) }, []string{"comment"}},
		{"bad utf-8", func(r *ReviewCreated) { r.Comment = "\xff" }, []string{"comment"}},
		{"long category", func(r *ReviewCreated) { r.Category = strings.Repeat("c", 65) }, []string{"category"}},
	} {
		r := valid
		tc.mutate(&r)
		var fields []string
		for _, p := range r.Normalize().Validate() {
			fields = append(fields, p.Field)
		}
		require.Equal(t, tc.fields, fields, tc.name)
	}
	require.Equal(t, "plumbing", ReviewCreated{Category: " PLUMBING "}.Normalize().Category)
}
