package celerycompat

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"fundigo/pkg/amqpx"
	"fundigo/pkg/celery"
	"fundigo/pkg/komburedis"
)

// EventExchange is Celery's event exchange: topic on RabbitMQ, fanout
// (pub/sub) on Redis.
const EventExchange = "celeryev"

// eventSink sends one event message.
type eventSink interface {
	send(ctx context.Context, routingKey string, headers map[string]any, body []byte) error
}

// redisEvents PUBLISHes events as kombu's fanout does.
type redisEvents struct{ t *komburedis.Transport }

func (r redisEvents) send(ctx context.Context, routingKey string, headers map[string]any, body []byte) error {
	env := komburedis.NewEnvelope(body, celery.ContentTypeJSON, "utf-8", headers, komburedis.Properties{DeliveryMode: 1})
	return r.t.PublishFanout(ctx, EventExchange, routingKey, env)
}

// amqpEvents publishes to the celeryev topic exchange on a publisher of its
// own that is not mandatory.
type amqpEvents struct{ pub *amqpx.Publisher }

func (a amqpEvents) send(ctx context.Context, routingKey string, headers map[string]any, body []byte) error {
	return a.pub.Publish(ctx, EventExchange, routingKey, amqp.Publishing{ContentType: celery.ContentTypeJSON,
		ContentEncoding: "utf-8", DeliveryMode: amqp.Transient, Headers: headers, Body: body})
}

// events sends Celery task and worker events (what `celery worker -E`
// sends) so Flower and `celery events` see Go workers. Best effort: a
// failed send is logged at debug level and never fails a task.
type events struct {
	c         *Consumer
	sink      eventSink
	hostname  string
	active    atomic.Int64
	processed atomic.Int64
}

// HeartbeatEvery is how often worker-heartbeat is sent (Celery's default).
const HeartbeatEvery = 2 * time.Second

func (e *events) emit(typ string, fields map[string]any) {
	if e == nil {
		return
	}
	now := e.c.cfg.Now()
	ev := map[string]any{"type": typ, "hostname": e.hostname, "timestamp": float64(now.UnixNano()) / 1e9,
		"utcoffset": 0, "pid": os.Getpid(), "clock": e.c.state.forward()}
	for k, v := range fields {
		ev[k] = v
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := e.sink.send(ctx, strings.ReplaceAll(typ, "-", "."), map[string]any{"hostname": e.hostname}, body); err != nil {
		e.c.log.Debug().Err(err).Str("event", typ).Msg("celery event not sent")
	}
}

func (e *events) worker(typ string) {
	if e == nil {
		return
	}
	e.emit(typ, map[string]any{"freq": HeartbeatEvery.Seconds(), "active": e.active.Load(),
		"processed": e.processed.Load(), "loadavg": loadavg(), "sw_ident": "fundigo", "sw_ver": "1",
		"sw_sys": runtime.GOOS})
}

// heartbeat sends worker-online, a worker-heartbeat every HeartbeatEvery
// until ctx ends, then worker-offline.
func (e *events) heartbeat(ctx context.Context) {
	if e == nil {
		return
	}
	e.worker("worker-online")
	tick := time.NewTicker(HeartbeatEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			e.worker("worker-heartbeat")
		case <-ctx.Done():
			e.worker("worker-offline")
			return
		}
	}
}

func (e *events) received(m *celery.Message) {
	if e == nil {
		return
	}
	e.emit("task-received", map[string]any{"uuid": m.ID, "name": m.Task, "args": repr(m.Extra["argsrepr"], m.Args),
		"kwargs": repr(m.Extra["kwargsrepr"], m.Kwargs), "root_id": nullable(m.RootID), "parent_id": nullable(m.ParentID),
		"retries": m.Retries, "eta": isoOrNil(m.ETA), "expires": isoOrNil(m.Expires)})
}

func (e *events) started(m *celery.Message) {
	if e == nil {
		return
	}
	e.active.Add(1)
	e.emit("task-started", map[string]any{"uuid": m.ID})
}

// finished sends task-succeeded, task-failed or task-retried.
func (e *events) finished(m *celery.Message, typ string, result any, exc *celery.Exception, runtime time.Duration) {
	if e == nil {
		return
	}
	e.active.Add(-1)
	e.processed.Add(1)
	f := map[string]any{"uuid": m.ID}
	switch typ {
	case "task-succeeded":
		b, _ := json.Marshal(result)
		f["result"], f["runtime"] = string(b), runtime.Seconds()
	default:
		f["exception"], f["traceback"] = exceptionRepr(exc), ""
	}
	e.emit(typ, f)
}

func (e *events) revoked(m *celery.Message, expired bool) {
	if e == nil {
		return
	}
	e.emit("task-revoked", map[string]any{"uuid": m.ID, "terminated": false, "signum": nil, "expired": expired})
}

// terminated ends a started task cancelled by a terminating revoke (signum
// 15, SIGTERM, Celery's default for terminate).
func (e *events) terminated(m *celery.Message) {
	if e == nil {
		return
	}
	e.active.Add(-1)
	e.processed.Add(1)
	e.emit("task-revoked", map[string]any{"uuid": m.ID, "terminated": true, "signum": 15, "expired": false})
}

func exceptionRepr(exc *celery.Exception) string {
	if exc == nil {
		return ""
	}
	args := make([]string, 0, len(exc.Message))
	for _, a := range exc.Message {
		if s, ok := a.(string); ok {
			args = append(args, "'"+strings.ReplaceAll(s, "'", "\\'")+"'")
		} else {
			args = append(args, fmt.Sprint(a))
		}
	}
	return exc.Type + "(" + strings.Join(args, ", ") + ")"
}

// repr is Celery's argsrepr when the client sent one, else the JSON text.
func repr(given any, v any) string {
	if s, ok := given.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func isoOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return celery.FormatTime(t)
}

// loadavg is /proc/loadavg's three figures (zeros elsewhere).
func loadavg() []float64 {
	out := []float64{0, 0, 0}
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	for i, f := range strings.Fields(string(b)) {
		if i > 2 {
			break
		}
		_, _ = fmt.Sscanf(f, "%g", &out[i])
	}
	return out
}
