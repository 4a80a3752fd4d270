package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"

	"fundigo/pkg/live"
)

// runStreamClients is the client process of `bench stream`: it opens
// --conns connections to --target, says "ready", counts the rating.updated
// events each receives with their latency from the event's time, and
// prints the result once every expected event arrived or --timeout passed
// without progress.
func runStreamClients(ctx context.Context, b *benchRun) error {
	n, per := b.flags.Conns, b.flags.EventsPerConn
	expect := int64(n * per)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu        sync.Mutex
		hist      = hdrhistogram.New(int64(time.Microsecond), int64(10*time.Minute), 3)
		delivered atomic.Int64
		dropped   atomic.Int64
		first     atomic.Int64
		last      atomic.Int64
		progress  = make(chan struct{}, 1)
	)
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	hc := &http.Client{Transport: tr}
	header := http.Header{"X-API-Key": {b.flags.APIKey}}
	conns := make([]*websocket.Conn, n)
	var failed atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i := range n {
		g.Go(func() error {
			dctx, dcancel := context.WithTimeout(gctx, time.Minute)
			defer dcancel()
			c, resp, err := websocket.Dial(dctx, streamURL(b.flags.Target, b.flags.StreamPrefix+strconv.Itoa(i)),
				&websocket.DialOptions{HTTPClient: hc, HTTPHeader: header})
			if resp != nil && resp.Body != nil {
				_ = resp.Body.Close()
			}
			if err != nil {
				failed.Add(1)
				return nil //nolint:nilerr // counted; the run goes on with the others
			}
			_, msg, err := c.Read(dctx)
			var m live.Message
			if err != nil || json.Unmarshal(msg, &m) != nil || m.Type != live.TypeReady {
				failed.Add(1)
				_ = c.CloseNow()
				return nil
			}
			conns[i] = c
			return nil
		})
	}
	_ = g.Wait()
	connected := n - int(failed.Load())
	fmt.Fprintf(b.stdoutOrDiscard(), "%sready %d/%d connected\n", streamLinePrefix, connected, n)

	var wg sync.WaitGroup
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { _ = c.CloseNow() }()
			for {
				_, raw, err := c.Read(ctx)
				if err != nil {
					if ctx.Err() == nil {
						dropped.Add(1)
					}
					return
				}
				now := time.Now()
				var m live.Message
				if json.Unmarshal(raw, &m) != nil || m.Type != "rating.updated" || m.At == nil {
					continue
				}
				mu.Lock()
				_ = hist.RecordValue(int64(now.Sub(*m.At)))
				mu.Unlock()
				first.CompareAndSwap(0, now.UnixNano())
				last.Store(now.UnixNano())
				if delivered.Add(1) == expect {
					cancel()
				}
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}()
	}
	// End when everything arrived, or after --timeout without a message.
	idle := time.NewTimer(b.flags.Opts.Timeout)
	defer idle.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-progress:
			idle.Reset(b.flags.Opts.Timeout)
		case <-idle.C:
			cancel()
			break wait
		}
	}
	wg.Wait()
	pct := func(q float64) int64 { return hist.ValueAtQuantile(q) }
	r := streamClientResult{
		Connected: connected, Failed: int(failed.Load()), Delivered: delivered.Load(), Dropped: int(dropped.Load()),
		First: time.Unix(0, first.Load()), Last: time.Unix(0, last.Load()),
		LatencyNS: [5]int64{pct(50), pct(90), pct(99), hist.Max(), int64(hist.Mean())},
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.stdoutOrDiscard(), "%sresult %s\n", streamLinePrefix, raw)
	if r.Delivered < expect {
		return errors.New("not every event was delivered (see the result line)")
	}
	return nil
}
