package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"fundigo/pkg/live"
)

// sseRetryMS is the reconnection delay the stream tells EventSource to use.
const sseRetryMS = 2000

// handleEvents is GET /v1/events: the same messages as /v1/stream as
// Server-Sent Events, for clients that cannot hold a WebSocket. Each event
// message is `id: <id>` + `data: <json>` (the default "message" event); the
// control messages are named events (ready, refetch, reconnect, error).
// EventSource resends the last id as Last-Event-ID when it reconnects
// (resume= does the same for a first connection). A ": ping" comment is
// written every FUNDIGO_STREAM_HEARTBEAT; on shutdown the stream ends with
// `event: reconnect`.
func handleEvents(hub *live.Hub, auth streamAuth) echo.HandlerFunc {
	return func(c echo.Context) error {
		if hub == nil {
			return live.ErrUnavailable
		}
		p, presented, err := auth.fromRequest(c)
		if err != nil {
			return err
		}
		if !presented {
			return refuse(c, auth.th, "a service key (X-API-Key), a bearer token or ?token= is required")
		}
		req := live.SubscribeRequest{Resume: c.Request().Header.Get("Last-Event-ID"), Transport: live.TransportSSE}
		if req.Resume == "" {
			req.Resume = c.QueryParam("resume")
		}
		if req.Owner, err = streamOwner(p, c.QueryParam("user")); err != nil {
			return err
		}
		ctx := c.Request().Context()
		sub, err := hub.Subscribe(ctx, req)
		if err != nil {
			return err
		}
		defer sub.Close()

		w := c.Response()
		rc := http.NewResponseController(w)
		// The server's read and write timeouts suit requests, not a stream:
		// no read deadline (GET has no body), a write deadline per write.
		_ = rc.SetReadDeadline(time.Time{})
		h := w.Header()
		h.Set(echo.HeaderContentType, "text/event-stream")
		h.Set(echo.HeaderCacheControl, "no-cache")
		h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
		w.WriteHeader(http.StatusOK)
		cfg := hub.Config()
		write := func(frame []byte) error {
			_ = rc.SetWriteDeadline(time.Now().Add(cfg.IdleTimeout))
			if _, err := w.Write(frame); err != nil {
				return err
			}
			return rc.Flush()
		}
		if err := write([]byte("retry: " + strconv.Itoa(sseRetryMS) + "\n\n")); err != nil {
			return nil //nolint:nilerr // the client left; nothing to answer
		}
		for {
			nctx, cancel := context.WithTimeout(ctx, cfg.Heartbeat)
			msg, err := sub.Next(nctx)
			cancel()
			switch {
			case err == nil:
				if werr := write(appendSSE(nil, msg)); werr != nil {
					return nil //nolint:nilerr // the client left
				}
				hub.Metrics().Delivered(live.TransportSSE, 1)
			case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
				if werr := write([]byte(": ping\n\n")); werr != nil {
					return nil //nolint:nilerr // the client left
				}
			case errors.Is(err, live.ErrShutdown), errors.Is(err, live.ErrResync):
				_ = write(appendSSE(nil, live.Message{Type: live.TypeReconnect, Reason: closeReason(err)}))
				return nil
			case errors.Is(err, live.ErrSlowConsumer):
				_ = write(appendSSE(nil, live.Message{Type: live.TypeError, Reason: err.Error()}))
				return nil
			default:
				return nil // the client left
			}
		}
	}
}

// appendSSE appends one message's frame to b: domain events as the
// default event with their id, control messages as named events (ready
// keeps its id, so EventSource resumes from it).
func appendSSE(b []byte, m live.Message) []byte {
	if m.Control() {
		b = append(b, "event: "...)
		b = append(b, m.Type...)
		b = append(b, '\n')
	}
	if m.ID != "" {
		b = append(b, "id: "...)
		b = append(b, m.ID...)
		b = append(b, '\n')
	}
	b = append(b, "data: "...)
	b = append(b, m.JSON()...)
	return append(b, "\n\n"...)
}
