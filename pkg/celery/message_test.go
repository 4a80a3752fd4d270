package celery_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/celery"
)

// fixture is a task message as captured from Celery: AMQP properties,
// application headers and the body (JSON, or body_text for raw bytes).
type fixture struct {
	Properties struct {
		ContentType     string `json:"content_type"`
		ContentEncoding string `json:"content_encoding"`
		CorrelationID   string `json:"correlation_id"`
		ReplyTo         string `json:"reply_to"`
	} `json:"properties"`
	Headers  map[string]any  `json:"headers"`
	Body     json.RawMessage `json:"body"`
	BodyText string          `json:"body_text"`
}

// loadDelivery turns testdata/name into the delivery amqp091-go would hand
// over: integers as int32 (py-amqp's 'I') or int64 ('l'), floats as float64,
// None as nil, lists as []any.
func loadDelivery(t *testing.T, name string) amqp.Delivery {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var f fixture
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&f))
	body := []byte(f.Body)
	if f.BodyText != "" {
		body = []byte(f.BodyText)
	}
	return amqp.Delivery{
		ContentType: f.Properties.ContentType, ContentEncoding: f.Properties.ContentEncoding,
		CorrelationId: f.Properties.CorrelationID, ReplyTo: f.Properties.ReplyTo,
		Headers: amqpTable(f.Headers), Body: body, RoutingKey: "celery",
	}
}

func amqpTable(m map[string]any) amqp.Table {
	out := amqp.Table{}
	for k, v := range m {
		out[k] = amqpValue(v)
	}
	return out
}

func amqpValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			if i >= math.MinInt32 && i <= math.MaxInt32 {
				return int32(i)
			}
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = amqpValue(e)
		}
		return out
	case map[string]any:
		return amqpTable(x)
	default:
		return v
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return ts
}

func TestDecodeCapturedMessages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file  string
		check func(t *testing.T, m *celery.Message)
	}{
		{"delay.json", func(t *testing.T, m *celery.Message) {
			require.Equal(t, "b2380c1e-dd05-4dbb-85a7-5b19fee81f60", m.ID)
			require.Equal(t, "notifications.tasks.send_notification_async", m.Task)
			require.Equal(t, 0, m.Retries)
			require.True(t, m.ETA.IsZero(), "None eta is no eta")
			require.True(t, m.Expires.IsZero(), "None expires never expires")
			require.Equal(t, celery.TimeLimit{}, m.TimeLimit, "[None, None] is no limit")
			require.Equal(t, m.ID, m.RootID)
			require.Empty(t, m.ParentID)
			require.Empty(t, m.Group)
			require.False(t, m.IgnoreResult)
			require.Len(t, m.Args, 2)
			require.JSONEq(t, `42`, string(m.Args[0]))
			require.JSONEq(t, `"Your fundi is on the way"`, string(m.Args[1]))
			require.Empty(t, m.Kwargs)
			require.Empty(t, m.Embed.Canvas())
			require.Equal(t, "py", m.Extra["lang"])
			require.Equal(t, "gen7182@vm", m.Extra["origin"])
			require.Contains(t, m.Extra, "group_index", "None-valued unknown headers are kept")
			require.Equal(t, "6c4f1a36-3bb8-3c4e-9a8e-2b7f5d7c9e10", m.ReplyTo)
		}},
		{"apply_async.json", func(t *testing.T, m *celery.Message) {
			require.Equal(t, "payments.tasks.process_payment_callback", m.Task)
			require.Equal(t, 2, m.Retries)
			require.Equal(t, mustTime(t, "2026-11-26T16:13:05.647718Z"), m.ETA.UTC())
			require.Equal(t, mustTime(t, "2026-11-26T16:22:35.647718Z"), m.Expires.UTC())
			require.Equal(t, celery.TimeLimit{Hard: 60 * time.Second, Soft: 50500 * time.Millisecond}, m.TimeLimit,
				"timelimit is [hard, soft], whatever the protocol docs say")
			require.Equal(t, "9e0b7bd2-17b5-4a4e-8f1e-7d7b1f5b3c01", m.RootID)
			require.Equal(t, "9e0b7bd2-17b5-4a4e-8f1e-7d7b1f5b3c01", m.ParentID)
			require.Equal(t, "0f9b8c8e-5f51-4a57-9d55-0e4f4d0f3b11", m.Group)
			require.Equal(t, "callback", m.Shadow)
			require.True(t, m.IgnoreResult)
			require.Empty(t, m.Args)
			raw, ok := m.Arg(0, "callback_data")
			require.True(t, ok, "a keyword argument is found by name")
			require.JSONEq(t, `{"Body": {"stkCallback": {"ResultCode": 0}}}`, string(raw))
		}},
		{"kombu_wrappers.json", func(t *testing.T, m *celery.Message) {
			require.Equal(t, mustTime(t, "2024-06-19T19:23:24.61143Z"), m.ETA, "a naive eta is UTC")
			require.Len(t, m.Args, 3)
			require.Contains(t, m.Extra, "stamps")
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			m, err := celery.Decode(loadDelivery(t, tc.file))
			require.NoError(t, err)
			tc.check(t, m)
		})
	}
}

func TestDecodeRejectsWhatItCannotRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file    string
		reason  string // in DecodeError.Reason
		excType string // the exception stored as the task's FAILURE
		excMod  string
		id      string
	}{
		{"protocol_v1.bad.json", "protocol v1", "NotImplementedError", "builtins", "5b7f3e8a-4c2d-4e1f-9a0b-6c5d4e3f2a1b"},
		{"pickle.bad.json", "content type", "ContentDisallowed", "kombu.exceptions", "7d9a1b2c-3e4f-4a5b-8c6d-7e8f9a0b1c2d"},
		{"compressed.bad.json", "compression", "ContentDisallowed", "kombu.exceptions", "8e0b2c3d-4f5a-4b6c-9d7e-8f9a0b1c2d3e"},
		{"body_not_list.bad.json", "[args, kwargs, embed]", "ValueError", "builtins", "9f1c3d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"},
		{"bad_eta.bad.json", "header eta", "ValueError", "builtins", "0a2d4e5f-6b7c-4d8e-9f0a-1b2c3d4e5f6a"},
		{"bad_timelimit.bad.json", "header timelimit", "ValueError", "builtins", "1b3e5f6a-7c8d-4e9f-8a0b-2c3d4e5f6a7b"},
		{"bad_kombu_type.bad.json", "frozenset", "ValueError", "builtins", "2c4f6a7b-8d9e-4f0a-9b1c-3d4e5f6a7b8c"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			m, err := celery.Decode(loadDelivery(t, tc.file))
			require.Nil(t, m)
			var de *celery.DecodeError
			require.ErrorAs(t, err, &de)
			require.Contains(t, de.Reason, tc.reason)
			require.Equal(t, tc.id, de.ID, "the id is recovered so a FAILURE can be stored")
			require.NotNil(t, de.Exception)
			require.Equal(t, tc.excType, de.Exception.Type)
			require.Equal(t, tc.excMod, de.Exception.Module)
		})
	}
}

func TestDecodeHeaderTypes(t *testing.T) {
	t.Parallel()
	body := []byte(`[[], {}, null]`)
	for _, tc := range []struct {
		name    string
		headers amqp.Table
		retries int
		hard    time.Duration
		wantErr string
	}{
		{"int8 retries", amqp.Table{"retries": int8(3)}, 3, 0, ""},
		{"int64 retries", amqp.Table{"retries": int64(7)}, 7, 0, ""},
		{"float whole retries", amqp.Table{"retries": float64(1)}, 1, 0, ""},
		{"fractional retries", amqp.Table{"retries": 1.5}, 0, 0, "header retries"},
		{"string retries", amqp.Table{"retries": "1"}, 0, 0, "header retries"},
		{"int timelimit", amqp.Table{"timelimit": []any{int32(5), nil}}, 0, 5 * time.Second, ""},
		{"negative timelimit", amqp.Table{"timelimit": []any{int32(-5), nil}}, 0, 0, "header timelimit"},
		{"timelimit not a list", amqp.Table{"timelimit": "5"}, 0, 0, "header timelimit"},
		{"eta not a string", amqp.Table{"eta": int64(5)}, 0, 0, "header eta"},
		{"ignore_result not a bool", amqp.Table{"ignore_result": "yes"}, 0, 0, "header ignore_result"},
		{"all absent", amqp.Table{}, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := amqp.Table{"task": "t", "id": "id-1"}
			for k, v := range tc.headers {
				h[k] = v
			}
			m, err := celery.Decode(amqp.Delivery{ContentType: "application/json", Headers: h, Body: body})
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.retries, m.Retries)
			require.Equal(t, tc.hard, m.TimeLimit.Hard)
		})
	}
}

func TestDecodeFallsBackToCorrelationID(t *testing.T) {
	t.Parallel()
	m, err := celery.Decode(amqp.Delivery{ContentType: "application/json; charset=utf-8", CorrelationId: "corr-1",
		Headers: amqp.Table{"task": "t", "id": nil}, Body: []byte(`[[1], null, null]`)})
	require.NoError(t, err)
	require.Equal(t, "corr-1", m.ID)
	require.Len(t, m.Args, 1)
	require.Nil(t, m.Kwargs)
}

func TestEmbedCanvas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		embed string
		want  []string
	}{
		{`{"callbacks": null, "errbacks": null, "chain": null, "chord": null}`, nil},
		{`{"callbacks": [], "chain": []}`, nil},
		{`{"callbacks": [{"task": "a"}], "errbacks": null, "chain": null, "chord": null}`, []string{"link"}},
		{`{"errbacks": [{"task": "a"}], "chain": [{"task": "b"}], "chord": {"task": "c"}}`, []string{"link_error", "chain", "chord"}},
	} {
		m, err := celery.Decode(amqp.Delivery{ContentType: "application/json",
			Headers: amqp.Table{"task": "t", "id": "i"}, Body: []byte(`[[], {}, ` + tc.embed + `]`)})
		require.NoError(t, err)
		require.Equal(t, tc.want, m.Embed.Canvas(), tc.embed)
	}
}

func TestPublishingRoundTrip(t *testing.T) {
	t.Parallel()
	t.Run("decoded message keeps its body and extra headers", func(t *testing.T) {
		t.Parallel()
		m, err := celery.Decode(loadDelivery(t, "kombu_wrappers.json"))
		require.NoError(t, err)
		orig := loadDelivery(t, "kombu_wrappers.json")
		m.Retries++
		eta := time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC)
		m.ETA = eta
		p, err := m.Publishing()
		require.NoError(t, err)
		require.Equal(t, orig.Body, p.Body, "the body is republished byte for byte")
		require.Equal(t, "application/json", p.ContentType)
		require.Equal(t, "utf-8", p.ContentEncoding)
		require.Equal(t, m.ID, p.CorrelationId)
		require.Equal(t, amqp.Persistent, p.DeliveryMode)
		require.Equal(t, int64(1), p.Headers["retries"])
		require.Equal(t, "2030-01-02T03:04:05.600000+00:00", p.Headers["eta"])
		require.Nil(t, p.Headers["expires"], "unset headers travel as None")
		require.Contains(t, p.Headers, "expires")
		require.Equal(t, []any{nil, nil}, p.Headers["timelimit"])
		require.Equal(t, orig.Headers["stamps"], p.Headers["stamps"])
		require.NoError(t, p.Headers.Validate(), "every header is a valid AMQP field")

		again, err := celery.Decode(amqp.Delivery{ContentType: p.ContentType, ContentEncoding: p.ContentEncoding,
			CorrelationId: p.CorrelationId, Headers: p.Headers, Body: p.Body})
		require.NoError(t, err)
		require.Equal(t, 1, again.Retries)
		require.True(t, eta.Equal(again.ETA))
		require.Equal(t, m.Args, again.Args)
	})
	t.Run("new message looks like delay()", func(t *testing.T) {
		t.Parallel()
		m, err := celery.NewMessage("ratings.tasks.update_technician_ratings", []any{int64(7), "x"}, map[string]any{"k": true})
		require.NoError(t, err)
		m.TimeLimit = celery.TimeLimit{Hard: 90 * time.Second}
		p, err := m.Publishing()
		require.NoError(t, err)
		require.JSONEq(t, `[[7, "x"], {"k": true}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]`, string(p.Body))
		require.Equal(t, m.ID, p.Headers["root_id"])
		require.Nil(t, p.Headers["parent_id"])
		require.Equal(t, []any{90.0, nil}, p.Headers["timelimit"])
		require.Equal(t, "py", p.Headers["lang"])
		got, err := celery.Decode(amqp.Delivery{ContentType: p.ContentType, Headers: p.Headers, Body: p.Body})
		require.NoError(t, err)
		require.Equal(t, "ratings.tasks.update_technician_ratings", got.Task)
		require.Equal(t, celery.TimeLimit{Hard: 90 * time.Second}, got.TimeLimit)
	})
}
