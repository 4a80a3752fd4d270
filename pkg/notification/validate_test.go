package notification

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// One Validate for every entry point, with the stricter rule of the two
// validators it replaced (the API's field rules and the worker's UUID id).
func TestValidate(t *testing.T) {
	t.Parallel()
	ok := func() Request {
		return Request{ID: uuid.NewString(), UserIDs: []string{" u1 ", "u2", "u1"}, Title: "t", Body: "b"}
	}
	r := ok()
	require.NoError(t, Validate(&r))
	require.Equal(t, []string{"u1", "u2"}, r.UserIDs, "trimmed and deduplicated")
	require.Equal(t, PriorityNormal, r.Priority, "defaulted")

	for name, tc := range map[string]struct {
		mutate func(*Request)
		field  string
	}{
		"id not a uuid":           {func(r *Request) { r.ID = "x" }, "id"},
		"no users":                {func(r *Request) { r.UserIDs = nil }, "user_ids"},
		"blank user":              {func(r *Request) { r.UserIDs = []string{" "} }, "user_ids"},
		"user id too long":        {func(r *Request) { r.UserIDs = []string{strings.Repeat("u", MaxUserIDLen+1)} }, "user_ids"},
		"nothing to say":          {func(r *Request) { r.Title, r.Body = "", "" }, "title"},
		"template and title":      {func(r *Request) { r.Template, r.Params = "job_assigned", map[string]any{"job_id": 1} }, "template"},
		"unknown template":        {func(r *Request) { r.Title, r.Body, r.Template = "", "", "nope" }, "template"},
		"missing param":           {func(r *Request) { r.Title, r.Body, r.Template = "", "", "job_assigned" }, "params.job_id"},
		"params without template": {func(r *Request) { r.Params = map[string]any{"a": 1} }, "params"},
		"title too long":          {func(r *Request) { r.Title = strings.Repeat("t", MaxTitle+1) }, "title"},
		"body too long":           {func(r *Request) { r.Body = strings.Repeat("b", MaxBody+1) }, "body"},
		"data too big":            {func(r *Request) { r.Data = map[string]any{"k": strings.Repeat("d", MaxDataBytes)} }, "data"},
		"category too long":       {func(r *Request) { r.Category = strings.Repeat("c", MaxCategoryLen+1) }, "category"},
		"bad priority":            {func(r *Request) { r.Priority = "urgent" }, "priority"},
		"collapse id too long":    {func(r *Request) { r.CollapseID = strings.Repeat("c", MaxCollapseIDLen+1) }, "collapse_id"},
		"title in bytes":          {func(r *Request) { r.Title = strings.Repeat("é", MaxTitle/2+1) }, "title"},
		"body in bytes":           {func(r *Request) { r.Body = strings.Repeat("é", MaxBody/2+1) }, "body"},
		"too many params":         {func(r *Request) { r.Title, r.Body, r.Template, r.Params = "", "", "job_assigned", manyParams() }, "params"},
		"params too big": {func(r *Request) {
			r.Title, r.Body, r.Template, r.Params = "", "", "job_assigned", map[string]any{"job_id": strings.Repeat("j", MaxParamsBytes)}
		}, "params"},
		"payload over 4096": {func(r *Request) {
			r.Title, r.Body, r.Data = strings.Repeat("t", MaxTitle), strings.Repeat("b", MaxBody), map[string]any{"d": strings.Repeat("d", 2000)}
		}, "payload"},
		"rendered over 4096": {func(r *Request) {
			r.Title, r.Body, r.Template = "", "", "job_assigned"
			r.Params, r.Data = map[string]any{"job_id": strings.Repeat("j", 1000)}, map[string]any{"d": strings.Repeat("d", 3000)}
		}, "payload"},
		"template body both given": {func(r *Request) { r.Title = ""; r.Template, r.Params = "job_assigned", map[string]any{"job_id": 1} }, "template"},
	} {
		r := ok()
		tc.mutate(&r)
		err := Validate(&r)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, name)
		require.Equal(t, tc.field, ve.Fields[0].Field, name)
	}
}

func manyParams() map[string]any {
	m := map[string]any{"job_id": "J"}
	for i := range MaxParams {
		m[strings.Repeat("p", i+1)] = i
	}
	return m
}

// At the bounds a request is accepted; the payload check renders the
// template in every locale.
func TestValidateAtLimits(t *testing.T) {
	t.Parallel()
	r := Request{ID: uuid.NewString(), UserIDs: []string{"u"}, Title: strings.Repeat("t", MaxTitle),
		Body: strings.Repeat("b", MaxBody), Data: map[string]any{"d": strings.Repeat("d", 1500)}}
	require.NoError(t, Validate(&r))
	r = Request{ID: uuid.NewString(), UserIDs: []string{"u"}, Template: "payment_failed",
		Params: map[string]any{"amount": 1500, "reason": "wrong_pin", "job_id": strings.Repeat("j", 500)}}
	require.NoError(t, Validate(&r))
}

// TestUnknownTemplateListsTheTemplates: the 422 says which names exist.
func TestUnknownTemplateListsTheTemplates(t *testing.T) {
	t.Parallel()
	r := Request{ID: "00000000-0000-0000-0000-000000000001", UserIDs: []string{"u1"}, Template: "payment_sent"}
	err := Validate(&r)
	require.ErrorContains(t, err, "unknown template; the templates are job_assigned, job_funded, payment_failed, payment_received")
}
