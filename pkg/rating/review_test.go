package rating

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/events"
)

func TestReviewValidate(t *testing.T) {
	t.Parallel()
	valid := events.ReviewCreated{JobID: "j", TechnicianID: "t", CustomerID: "c", Rating: 3}
	for _, tc := range []struct {
		name   string
		mutate func(*events.ReviewCreated)
		fields []string
	}{
		{"valid", func(*events.ReviewCreated) {}, nil},
		{"rating 0", func(r *events.ReviewCreated) { r.Rating = 0 }, []string{"rating"}},
		{"rating 6", func(r *events.ReviewCreated) { r.Rating = 6 }, []string{"rating"}},
		{"blank ids", func(r *events.ReviewCreated) { r.JobID, r.TechnicianID, r.CustomerID = " ", "", "" },
			[]string{"job_id", "technician_id", "customer_id"}},
		{"long id", func(r *events.ReviewCreated) { r.JobID = events.ExternalID(strings.Repeat("x", 129)) }, []string{"job_id"}},
		{"NUL in id", func(r *events.ReviewCreated) { r.TechnicianID = "a\x00b" }, []string{"technician_id"}},
		{"2000 chars ok", func(r *events.ReviewCreated) { r.Comment = strings.Repeat("ñ", 2000) }, nil},
		{"2001 chars", func(r *events.ReviewCreated) { r.Comment = strings.Repeat("ñ", 2001) }, []string{"comment"}},
		{"bad utf-8", func(r *events.ReviewCreated) { r.Comment = "\xff" }, []string{"comment"}},
		{"long category", func(r *events.ReviewCreated) { r.Category = strings.Repeat("c", 65) }, []string{"category"}},
	} {
		r := valid
		tc.mutate(&r)
		var fields []string
		for _, p := range Validate(Normalize(r)) {
			fields = append(fields, p.Field)
		}
		require.Equal(t, tc.fields, fields, tc.name)
	}
	require.Equal(t, "plumbing", Normalize(events.ReviewCreated{Category: " PLUMBING "}).Category)
}

func TestValidateRefusesSelfReview(t *testing.T) {
	t.Parallel()
	probs := Validate(Normalize(events.ReviewCreated{JobID: "j", TechnicianID: "4242", CustomerID: " 4242", Rating: 5}))
	require.Len(t, probs, 1)
	require.Equal(t, "customer_id", probs[0].Field)
}
