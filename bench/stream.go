package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	kit "fundigo/pkg/bench"
	"fundigo/pkg/config"
	"fundigo/pkg/events"
	"fundigo/pkg/outbox"
	"fundigo/pkg/store"
)

// streamLinePrefix marks the client process's lines on its stdout.
const streamLinePrefix = "stream-clients: "

// streamClientResult is what the client process reports.
type streamClientResult struct {
	Connected int           `json:"connected"`
	Failed    int           `json:"failed"`
	Delivered int64         `json:"delivered"`
	First     time.Time     `json:"first"`
	Last      time.Time     `json:"last"`
	Latency   kit.Latency   `json:"-"`
	LatencyNS [5]int64      `json:"latency_ns"` // p50, p90, p99, max, mean
	Dropped   int           `json:"dropped"`    // connections the server closed
	Elapsed   time.Duration `json:"elapsed_ns"`
}

// benchStream measures live updates: --conns WebSocket connections (one
// user each, a service key watching it) receive --events-per-conn events
// each, committed to the outbox at --event-rate per second and carried by
// the whole path (relay → RabbitMQ → livefeed → Redis stream + fan-out →
// hub → WebSocket). The connections live in a child process (`fundigo bench
// stream --stream-clients`), so server and clients each have their own
// open-file limit. It reports delivered messages/s, the delivery latency
// from the outbox row's time, and the server's memory and file descriptors
// per connection.
func benchStream(ctx context.Context, b *benchRun) error {
	if b.flags.StreamClients {
		return runStreamClients(ctx, b)
	}
	n, per := b.flags.Conns, b.flags.EventsPerConn
	if n < 1 || per < 1 || b.flags.EventRate < 1 {
		return errors.New("--conns, --events-per-conn and --event-rate must be at least 1")
	}
	if b.flags.Target != "" {
		return errors.New("bench stream starts its own system (it commits events into its outbox): no --target")
	}
	s, err := b.system(ctx, func(c *config.Config) {
		c.Stream.MaxConns = n + 100
		c.Stream.SendBuffer = max(c.Stream.SendBuffer, per+16)
	})
	if err != nil {
		return err
	}
	defer s.stop()
	prefix := kit.ScratchName("su") + "-"

	memBefore, fdBefore := serverMemory(), openFDs()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(cctx, exe, "bench", "stream", "--stream-clients", "--target", s.base, "--api-key", s.apiKey,
		"--conns", strconv.Itoa(n), "--events-per-conn", strconv.Itoa(per), "--stream-prefix", prefix,
		"--timeout", b.flags.Opts.Timeout.String(), "--log-level", b.flags.LogLevel)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start client process: %w", err)
	}
	defer func() { _ = cmd.Wait() }()
	lines := make(chan string, 4)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), streamLinePrefix); ok {
				lines <- l
			}
		}
	}()
	readLine := func(timeout time.Duration) (string, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				return "", errors.New("client process ended early")
			}
			return l, nil
		case <-time.After(timeout):
			return "", errors.New("client process silent")
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	l, err := readLine(5 * time.Minute)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(l, "ready") {
		return fmt.Errorf("client process: %s", l)
	}
	memAfter, fdAfter := serverMemory(), openFDs()
	b.log.Info().Str("clients", l).Msg("stream clients connected")

	start := time.Now()
	if err := commitStreamEvents(ctx, s, prefix, n, per, b.flags.EventRate); err != nil {
		return err
	}
	committed := time.Since(start)
	l, err = readLine(b.flags.Opts.Timeout + 5*time.Minute)
	if err != nil {
		return err
	}
	var r streamClientResult
	if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "result ")), &r); err != nil {
		return fmt.Errorf("client result %q: %w", l, err)
	}
	elapsed := r.Last.Sub(start)
	res := kit.Result{
		Name: "stream.delivery", Mode: "open", Concurrency: n, Rate: float64(b.flags.EventRate),
		Ops: r.Delivered, Errors: int64(n*per) - r.Delivered, Elapsed: elapsed, Unit: "message",
		Latency: &kit.Latency{P50: time.Duration(r.LatencyNS[0]), P90: time.Duration(r.LatencyNS[1]),
			P99: time.Duration(r.LatencyNS[2]), Max: time.Duration(r.LatencyNS[3]), Mean: time.Duration(r.LatencyNS[4])},
	}
	if elapsed > 0 {
		res.Throughput = float64(r.Delivered) / elapsed.Seconds()
	}
	perConn := float64(memAfter-memBefore) / float64(max(r.Connected, 1)) / 1024
	res.Note = fmt.Sprintf("%d connections (%d failed, %d dropped by the server); %d events committed in %s; "+
		"server memory %.1f KiB/connection (heap+stacks in use), %d fds for %d connections; latency from the outbox row's time",
		r.Connected, r.Failed, r.Dropped, n*per, committed.Round(time.Millisecond), perConn, fdAfter-fdBefore, r.Connected)
	b.add(res, "", nil)
	return nil
}

// commitStreamEvents commits n×per rating.updated events (one technician
// per connection) to the outbox, in transactions of up to 200 rows, at
// about rate events per second.
func commitStreamEvents(ctx context.Context, s *system, prefix string, n, per, rate int) error {
	const batch = 200
	total := n * per
	interval := time.Duration(float64(time.Second) * batch / float64(rate))
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for done := 0; done < total; {
		msgs := make([]outbox.Message, 0, batch)
		for ; done < total && len(msgs) < batch; done++ {
			u, k := done%n, done/n
			ev := events.RatingUpdated{TechnicianID: prefix + strconv.Itoa(u), Count: k + 1, UpdatedAt: time.Now()}
			m, err := outbox.EventMessage(ev)
			if err != nil {
				return err
			}
			m.ID = fmt.Sprintf("bench:%s%d:%d", prefix, u, k)
			msgs = append(msgs, m)
		}
		if err := store.WithTx(ctx, s.in.Pool, func(tx pgx.Tx) error { return outbox.WriteBatch(ctx, tx, msgs) }); err != nil {
			return fmt.Errorf("commit stream events: %w", err)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// serverMemory is the heap and stacks in use after a GC.
func serverMemory() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// openFDs counts this process's open file descriptors (Linux; 0 elsewhere).
func openFDs() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(es)
}

// streamURL is the WebSocket URL watching user on base.
func streamURL(base, user string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/v1/stream?user=" + url.QueryEscape(user)
}
