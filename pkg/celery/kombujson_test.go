package celery_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
)

func TestUnmarshalKombuWrappers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     any
		wantErr  string
	}{
		{"aware datetime", `{"__type__": "datetime", "__value__": "2024-06-19T19:23:24.611430+03:00"}`, "2024-06-19T19:23:24.61143+03:00", ""},
		{"naive datetime is UTC", `{"__type__": "datetime", "__value__": "2024-06-19T19:23:24"}`, "2024-06-19T19:23:24Z", ""},
		{"date", `{"__type__": "date", "__value__": "2024-06-19"}`, "2024-06-19", ""},
		{"time", `{"__type__": "time", "__value__": "08:30:00.5"}`, "08:30:00.5", ""},
		{"decimal keeps its digits", `{"__type__": "decimal", "__value__": "12345678901234567890.05"}`, "12345678901234567890.05", ""},
		{"uuid", `{"__type__": "uuid", "__value__": {"hex": "a8098c1af86e11dabd1a00112444be1e", "version": 1}}`, "a8098c1a-f86e-11da-bd1a-00112444be1e", ""},
		{"bytes", `{"__type__": "bytes", "__value__": "habari"}`, "habari", ""},
		{"base64", `{"__type__": "base64", "__value__": "3q2+7w=="}`, "3q2+7w==", ""},
		{"nested in list and object", `[{"a": {"__type__": "decimal", "__value__": "1.10"}}, 5]`,
			[]any{map[string]any{"a": "1.10"}, json.Number("5")}, ""},
		{"extra key is not a wrapper", `{"__type__": "date", "__value__": "x", "more": 1}`,
			map[string]any{"__type__": "date", "__value__": "x", "more": json.Number("1")}, ""},
		{"big ints stay exact", `12345678901234567890`, json.Number("12345678901234567890"), ""},
		{"unknown marker", `{"__type__": "frozenset", "__value__": [1]}`, nil, `unsupported type "frozenset"`},
		{"bad datetime", `{"__type__": "datetime", "__value__": "tomorrow"}`, nil, "not an ISO 8601"},
		{"datetime not a string", `{"__type__": "datetime", "__value__": 5}`, nil, "unexpected value"},
		{"bad uuid", `{"__type__": "uuid", "__value__": {"hex": "zz"}}`, nil, "kombu uuid wrapper"},
		{"bad base64", `{"__type__": "base64", "__value__": "***"}`, nil, "kombu base64 wrapper"},
		{"trailing data", `1 2`, nil, "trailing data"},
		{"not json", `{`, nil, "decode json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got any
			err := celery.Unmarshal([]byte(tc.in), &got)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestUnmarshalIntoStruct(t *testing.T) {
	t.Parallel()
	type reminder struct {
		At     time.Time `json:"at"`
		Amount string    `json:"amount"`
		JobID  string    `json:"job_id"`
		Blob   []byte    `json:"blob"`
		Count  int       `json:"count"`
	}
	var r reminder
	require.NoError(t, celery.Unmarshal([]byte(`{
		"at": {"__type__": "datetime", "__value__": "2024-06-19T19:23:24.611430"},
		"amount": {"__type__": "decimal", "__value__": "1500.50"},
		"job_id": {"__type__": "uuid", "__value__": {"hex": "a8098c1af86e11dabd1a00112444be1e", "version": 1}},
		"blob": {"__type__": "base64", "__value__": "3q2+7w=="},
		"count": 3}`), &r))
	require.Equal(t, time.Date(2024, 6, 19, 19, 23, 24, 611430000, time.UTC), r.At)
	require.Equal(t, "1500.50", r.Amount)
	require.Equal(t, "a8098c1a-f86e-11da-bd1a-00112444be1e", r.JobID)
	require.Equal(t, []byte{0xde, 0xad, 0xbe, 0xef}, r.Blob)
	require.Equal(t, 3, r.Count)

	var wrongType struct{ Count int }
	require.Error(t, celery.Unmarshal([]byte(`{"Count": "three"}`), &wrongType))
}

func TestMarshalEmitsKombuWrappers(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("a8098c1a-f86e-11da-bd1a-00112444be1e")
	at := time.Date(2024, 6, 19, 19, 23, 24, 611430000, time.FixedZone("EAT", 3*3600))
	b, err := celery.Marshal(map[string]any{
		"at":     at,
		"id":     id,
		"amount": celery.Decimal("1500.50"),
		"text":   []byte("habari"),
		"bin":    []byte{0xde, 0xad, 0xbe, 0xef},
		"list":   []any{at, 1},
		"plain":  "x",
	})
	require.NoError(t, err)
	require.JSONEq(t, `{
		"at": {"__type__": "datetime", "__value__": "2024-06-19T19:23:24.611430+03:00"},
		"id": {"__type__": "uuid", "__value__": {"hex": "a8098c1af86e11dabd1a00112444be1e", "version": 1}},
		"amount": {"__type__": "decimal", "__value__": "1500.50"},
		"text": {"__type__": "bytes", "__value__": "habari"},
		"bin": {"__type__": "base64", "__value__": "3q2+7w=="},
		"list": [{"__type__": "datetime", "__value__": "2024-06-19T19:23:24.611430+03:00"}, 1],
		"plain": "x"}`, string(b))

	// And back: what Marshal wraps, Unmarshal reads.
	var back struct {
		At     time.Time `json:"at"`
		ID     string    `json:"id"`
		Amount string    `json:"amount"`
		Bin    []byte    `json:"bin"`
	}
	require.NoError(t, celery.Unmarshal(b, &back))
	require.True(t, at.Equal(back.At))
	require.Equal(t, id.String(), back.ID)
	require.Equal(t, "1500.50", back.Amount)
	require.Equal(t, []byte{0xde, 0xad, 0xbe, 0xef}, back.Bin)
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2024-06-19T19:23:24.611430+00:00", time.Date(2024, 6, 19, 19, 23, 24, 611430000, time.UTC), true},
		{"2024-06-19T19:23:24+03:00", time.Date(2024, 6, 19, 16, 23, 24, 0, time.UTC), true},
		{"2024-06-19T19:23:24.611430Z", time.Date(2024, 6, 19, 19, 23, 24, 611430000, time.UTC), true},
		{"2024-06-19T19:23:24.611430", time.Date(2024, 6, 19, 19, 23, 24, 611430000, time.UTC), true},
		{"2024-06-19 19:23:24", time.Date(2024, 6, 19, 19, 23, 24, 0, time.UTC), true},
		{"2024-06-19", time.Date(2024, 6, 19, 0, 0, 0, 0, time.UTC), true},
		{"19/06/2024", time.Time{}, false},
		{"", time.Time{}, false},
	} {
		got, err := celery.ParseTime(tc.in)
		if !tc.ok {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.True(t, tc.want.Equal(got), "%s: got %s", tc.in, got)
	}
	require.Equal(t, "2024-06-19T16:23:24.000000+00:00",
		celery.FormatTime(time.Date(2024, 6, 19, 19, 23, 24, 0, time.FixedZone("EAT", 3*3600))))
}
