package live_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/live"
	"fundigo/pkg/tasks/taskstest"
)

// AppendBatch is Append for many events in one round trip: each event is
// appended and published once per (message id, owner), in order per owner,
// with the stream's expiry set; an invalid event fails alone.
func TestAppendBatch(t *testing.T) {
	t.Parallel()
	rdb := taskstest.Redis(t)
	s, err := live.NewStreams(rdb, taskstest.Prefix(t), live.Config{Retention: time.Minute})
	require.NoError(t, err)
	sub := rdb.Subscribe(t.Context(), s.Channel())
	defer sub.Close()
	_, err = sub.Receive(t.Context()) // subscribed
	require.NoError(t, err)

	at := time.UnixMicro(1_700_000_000_000_000)
	ev := func(owner, id string) live.Event {
		return live.Event{Owner: owner, Type: "payment.paid", MessageID: id, At: at, Data: json.RawMessage(`{"id": "` + id + `"}`)}
	}
	_, dup, err := s.Append(t.Context(), ev("u1", "m0"))
	require.NoError(t, err)
	require.False(t, dup)

	got := s.AppendBatch(t.Context(), []live.Event{
		ev("u1", "m1"), ev("u2", "m2"), ev("", "m3"), ev("u1", "m4"), ev("u1", "m1"), ev("u1", "m0"),
		{Owner: "u2", Type: "payment.paid", MessageID: "m5", Data: json.RawMessage(`[1]`)},
	})
	require.Len(t, got, 7)
	for _, i := range []int{0, 1, 3} {
		require.NoError(t, got[i].Err, i)
		require.False(t, got[i].Duplicate, i)
		require.NotEmpty(t, got[i].ID, i)
	}
	require.ErrorIs(t, got[2].Err, live.ErrInvalidEvent, "no owner")
	require.ErrorIs(t, got[6].Err, live.ErrInvalidEvent, "data not an object")
	require.True(t, got[4].Duplicate, "the same message for the same owner, in the same batch")
	require.True(t, got[5].Duplicate, "appended before by Append")

	r, err := s.Since(t.Context(), "u1", live.StreamID{MS: uint64(time.Now().Add(-time.Second).UnixMilli())}, true)
	require.NoError(t, err)
	var ids []string
	for _, m := range r.Messages {
		ids = append(ids, string(m.Data))
		require.Equal(t, "payment.paid", m.Type)
		require.True(t, at.Equal(*m.At))
	}
	require.Equal(t, []string{`{"id":"m0"}`, `{"id":"m1"}`, `{"id":"m4"}`}, ids, "u1's events in order, each once")
	require.Equal(t, got[3].ID, r.Head.String())

	keys, err := rdb.Keys(t.Context(), s.Channel()[:len(s.Channel())-len("live:fanout")]+"live:{u1}").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	ttl, err := rdb.PTTL(t.Context(), keys[0]).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 50*time.Second, "the stream's expiry is refreshed")

	var published []string
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for range 4 { // m0, m1, m2, m4
		msg, err := sub.ReceiveMessage(ctx)
		require.NoError(t, err)
		published = append(published, msg.Payload)
	}
	require.Contains(t, published[1], "u1\n"+got[0].ID+"\npayment.paid\n")
	require.Contains(t, published[2], "u2\n"+got[1].ID+"\n")
	require.Contains(t, published[3], "u1\n"+got[3].ID+"\n")
}
