package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"fundigo/pkg/live"
)

// authMessageTimeout bounds the wait for a browser's first (auth) message.
const authMessageTimeout = 10 * time.Second

// streamHello is the first message of a WebSocket client that could not
// authenticate with a header or ?token=.
type streamHello struct {
	Token  string `json:"token"`
	User   string `json:"user"`
	Resume string `json:"resume"`
}

// handleStream is GET /v1/stream: live updates over WebSocket. The client
// authenticates with a header, ?token= or a first message {"token": …};
// user= (services: required) names whose events to watch, resume= the last
// id received. Every message is a JSON text frame (live.Message): ready,
// then refetch or replayed events, then live events. The server pings every
// FUNDIGO_STREAM_HEARTBEAT and closes with 1012 (service restart: reconnect
// and resume) on shutdown, 1013 when the client was too slow, 1008 on a
// failed first-message authentication.
func handleStream(hub *live.Hub, auth streamAuth) echo.HandlerFunc {
	return func(c echo.Context) error {
		if hub == nil {
			return live.ErrUnavailable
		}
		p, presented, err := auth.fromRequest(c)
		if err != nil {
			return err
		}
		req := live.SubscribeRequest{Resume: c.QueryParam("resume"), Transport: live.TransportWebSocket}
		var sub *live.Subscription
		if presented {
			// Authorisation, caps and a bad resume id are still HTTP answers.
			if req.Owner, err = streamOwner(p, c.QueryParam("user")); err != nil {
				return err
			}
			if sub, err = hub.Subscribe(c.Request().Context(), req); err != nil {
				return err
			}
			defer sub.Close()
		}
		// Tokens, not cookies, authenticate: a cross-origin page gains
		// nothing it does not already hold, so any Origin may connect.
		conn, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return nil //nolint:nilerr // Accept answered the failed handshake itself
		}
		defer func() { _ = conn.CloseNow() }()
		conn.SetReadLimit(4096)
		ctx := c.Request().Context()
		log := zerolog.Ctx(ctx)
		if sub == nil {
			if sub, err = helloSubscribe(ctx, c, conn, hub, auth, req); err != nil {
				log.Debug().Err(err).Msg("live websocket refused after the first message")
				return nil
			}
			defer sub.Close()
		}
		pumpWebSocket(conn.CloseRead(ctx), conn, sub, hub.Config(), hub.Metrics())
		return nil
	}
}

// helloSubscribe reads the first message, authenticates it and subscribes;
// on failure it closes conn with a reason.
func helloSubscribe(ctx context.Context, c echo.Context, conn *websocket.Conn, hub *live.Hub, auth streamAuth, req live.SubscribeRequest) (*live.Subscription, error) {
	rctx, cancel := context.WithTimeout(ctx, authMessageTimeout)
	defer cancel()
	_, b, err := conn.Read(rctx)
	if err != nil {
		_ = conn.Close(websocket.StatusPolicyViolation, "authenticate with a first message {\"token\": …}")
		return nil, err
	}
	var hello streamHello
	if err := json.Unmarshal(b, &hello); err != nil || hello.Token == "" {
		_ = auth.th.anon(c)
		_ = conn.Close(websocket.StatusPolicyViolation, "unauthorized: the first message must be {\"token\": …}")
		return nil, errors.New("first message carries no token")
	}
	p, err := auth.user(c, hello.Token)
	if err != nil {
		_ = conn.Close(websocket.StatusPolicyViolation, "unauthorized: the token is invalid or expired")
		return nil, err
	}
	if req.Owner, err = streamOwner(p, hello.User); err != nil {
		_ = conn.Close(websocket.StatusPolicyViolation, "forbidden: a user may only watch its own events")
		return nil, err
	}
	if hello.Resume != "" {
		req.Resume = hello.Resume
	}
	sub, err := hub.Subscribe(ctx, req)
	if err != nil {
		_ = conn.Close(websocket.StatusTryAgainLater, closeReason(err))
		return nil, err
	}
	return sub, nil
}

// pumpWebSocket writes sub's messages to conn and pings it until either
// side ends; ctx ends when the client closes or sends a data message.
func pumpWebSocket(ctx context.Context, conn *websocket.Conn, sub *live.Subscription, cfg live.Config, m *live.Metrics) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(ctx, cfg.IdleTimeout)
				err := conn.Ping(pctx)
				pcancel()
				if err != nil {
					cancel() // unresponsive: the write loop ends
					return
				}
			}
		}
	}()
	for {
		msg, err := sub.Next(ctx)
		if err != nil {
			switch {
			case errors.Is(err, live.ErrShutdown), errors.Is(err, live.ErrResync):
				_ = conn.Close(websocket.StatusServiceRestart, closeReason(err))
			case errors.Is(err, live.ErrSlowConsumer):
				_ = conn.Close(websocket.StatusTryAgainLater, closeReason(err))
			}
			return
		}
		wctx, wcancel := context.WithTimeout(ctx, cfg.IdleTimeout)
		err = conn.Write(wctx, websocket.MessageText, msg.JSON())
		wcancel()
		if err != nil {
			return
		}
		m.Delivered(live.TransportWebSocket, 1)
	}
}

// closeReason is a close frame's reason (at most 123 bytes).
func closeReason(err error) string {
	s := err.Error()
	switch {
	case errors.Is(err, live.ErrShutdown), errors.Is(err, live.ErrResync):
		s = "reconnect and resume: " + s
	}
	if len(s) > 123 {
		s = s[:123]
	}
	return s
}

// streamStatus maps a live.Hub refusal to its HTTP status (problem.go).
func streamStatus(err error) (int, string, bool) {
	switch {
	case errors.Is(err, live.ErrBadID):
		return http.StatusBadRequest, "resume must be a message id (<ms>-<seq>)", true
	case errors.Is(err, live.ErrUserCap):
		return http.StatusTooManyRequests, "too many live connections for this user", true
	case errors.Is(err, live.ErrProcessCap):
		return http.StatusServiceUnavailable, "this server holds its maximum of live connections; retry (another replica)", true
	case errors.Is(err, live.ErrUnavailable):
		return http.StatusServiceUnavailable, "live updates are unavailable", true
	}
	return 0, "", false
}
