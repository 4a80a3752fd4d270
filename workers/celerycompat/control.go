package celerycompat

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// controlCommand is one remote-control message as kombu's pidbox Mailbox
// sends it (celery inspect / celery control).
type controlCommand struct {
	Method      string                     `json:"method"`
	Arguments   map[string]json.RawMessage `json:"arguments"`
	Destination []string                   `json:"destination"`
	Pattern     string                     `json:"pattern"`
	Matcher     string                     `json:"matcher"`
	Ticket      string                     `json:"ticket"`
	ReplyTo     *struct {
		Exchange   string `json:"exchange"`
		RoutingKey string `json:"routing_key"`
	} `json:"reply_to"`
}

// forUs is kombu's Node.handle_message test: a command is for this worker
// when its destination names it, or (with no destination) when its pattern
// matches the hostname under its matcher (glob or pcre), or when it names
// no one.
func (cmd controlCommand) forUs(hostname string) bool {
	switch {
	case len(cmd.Destination) > 0:
		return slices.Contains(cmd.Destination, hostname)
	case cmd.Pattern != "" && cmd.Matcher != "":
		return matches(hostname, cmd.Pattern, cmd.Matcher)
	default:
		return true
	}
}

// matches is kombu.matcher.match: glob is fnmatch, pcre is re.match
// (anchored at the start only).
func matches(hostname, pattern, matcher string) bool {
	switch matcher {
	case "glob":
		ok, err := path.Match(pattern, hostname)
		return err == nil && ok
	case "pcre":
		re, err := regexp.Compile(`^(?:` + pattern + `)`)
		return err == nil && re.MatchString(hostname)
	default:
		return false
	}
}

func okReply(value string) map[string]any { return map[string]any{"ok": value} }

// control answers one command the way a Celery worker's control panel
// (celery/worker/control.py) does; the reply is sent only when the command
// asked for one. An unknown command gets an error reply naming those
// FundiGO answers.
func (c *Consumer) control(cmd controlCommand) any {
	switch cmd.Method {
	case "ping":
		return okReply("pong")
	case "stats":
		return c.stats()
	case "active":
		var safe bool
		_ = json.Unmarshal(cmd.Arguments["safe"], &safe)
		return c.activeRequests(safe)
	case "registered":
		return c.deps.Registry.Tasks()
	case "active_queues":
		return c.activeQueues()
	case "revoked":
		return c.state.revokedIDs(c.cfg.Now())
	case "clock":
		return map[string]any{"clock": c.state.forward()}
	case "revoke", "terminate":
		return c.revoke(cmd)
	default:
		return map[string]any{"error": fmt.Sprintf("No such control command: %s (FundiGO's Go worker answers %s)",
			cmd.Method, strings.Join(controlCommands, ", "))}
	}
}

// controlCommands are the remote-control commands a Go worker answers
// (named in the error reply to any other).
var controlCommands = []string{"active", "active_queues", "clock", "ping", "registered", "revoke", "revoked", "stats", "terminate"}

// revoke is Celery's revoke (and terminate, which is revoke with
// terminate=True): the ids are remembered, so a queued or parked message
// with one of them is not run (REVOKED is stored); with terminate the
// handlers running them have their context cancelled.
func (c *Consumer) revoke(cmd controlCommand) any {
	ids, err := taskIDs(cmd.Arguments["task_id"])
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	terminate := cmd.Method == "terminate"
	if !terminate {
		_ = json.Unmarshal(cmd.Arguments["terminate"], &terminate)
	}
	terminated := c.state.revoke(ids, terminate, c.cfg.Now())
	c.log.Info().Strs("task_ids", ids).Bool("terminate", terminate).Strs("terminated", terminated).
		Msg("celery tasks revoked by remote control")
	if terminate {
		if len(terminated) == 0 {
			return okReply("terminate: tasks unknown")
		}
		return okReply("terminate: " + strings.Join(terminated, ", "))
	}
	return okReply("tasks " + strings.Join(ids, ", ") + " flagged as revoked")
}

// taskIDs reads revoke's task_id: one id or a list of them.
func taskIDs(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil && one != "" {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err == nil && len(many) > 0 && !slices.Contains(many, "") {
		return many, nil
	}
	return nil, errors.New("revoke: task_id must be a task id or a list of them")
}

// activeRequests is `inspect active`: Celery's Request.info() of each task
// running now.
func (c *Consumer) activeRequests(safe bool) []map[string]any {
	rs := c.state.running()
	slices.SortFunc(rs, func(a, b *running) int { return a.started.Compare(b.started) })
	out := make([]map[string]any, 0, len(rs))
	for _, r := range rs {
		var args, kwargs any = r.m.Args, r.m.Kwargs
		if r.m.Args == nil {
			args = []any{}
		}
		if r.m.Kwargs == nil {
			kwargs = map[string]any{}
		}
		if safe {
			args, kwargs = repr(r.m.Extra["argsrepr"], r.m.Args), repr(r.m.Extra["kwargsrepr"], r.m.Kwargs)
		}
		out = append(out, map[string]any{
			"id": r.m.ID, "name": r.m.Task, "args": args, "kwargs": kwargs, "type": r.m.Task,
			"hostname": c.cfg.Hostname, "time_start": float64(r.started.UnixNano()) / 1e9,
			"acknowledged": false, // acked late, after the outcome is stored
			"delivery_info": map[string]any{"exchange": r.d.Exchange, "routing_key": r.d.RoutingKey,
				"priority": r.d.Priority, "redelivered": r.d.Redelivered},
			"worker_pid": os.Getpid(),
		})
	}
	return out
}

// activeQueues is `inspect active_queues`: kombu's Queue.as_dict of each
// queue consumed, declared as kombu declares Queue(name).
func (c *Consumer) activeQueues() []map[string]any {
	out := make([]map[string]any, 0, len(c.cfg.Queues))
	for _, q := range c.cfg.Queues {
		out = append(out, map[string]any{
			"name": q, "routing_key": q, "durable": true, "exclusive": false, "auto_delete": false,
			"no_ack": false, "alias": nil, "bindings": []any{}, "no_declare": nil, "expires": nil,
			"message_ttl": nil, "max_length": nil, "max_length_bytes": nil, "max_priority": nil,
			"queue_arguments": nil, "binding_arguments": nil, "consumer_arguments": nil,
			"exchange": map[string]any{"name": q, "type": "direct", "arguments": nil, "durable": true,
				"passive": false, "auto_delete": false, "delivery_mode": nil, "no_declare": false},
		})
	}
	return out
}

// stats is `inspect stats` in the shape of Celery's Worker.stats (the
// fields that mean something for a Go worker).
func (c *Consumer) stats() map[string]any {
	transport := "amqp"
	if c.deps.Redis != nil {
		transport = "redis"
	}
	pid := os.Getpid()
	return map[string]any{
		"total":  c.state.totals(),
		"pid":    pid,
		"clock":  strconv.FormatInt(c.state.clock.Load(), 10),
		"uptime": int64(c.cfg.Now().Sub(c.state.started).Seconds()),
		"pool": map[string]any{"implementation": "fundigo:goroutines", "max-concurrency": c.cfg.Concurrency,
			"processes": []int{pid}, "max-tasks-per-child": "N/A", "put-guarded-by-semaphore": false,
			"timeouts": []float64{0, c.cfg.TaskTimeout.Seconds()}},
		"prefetch_count": c.cfg.Prefetch,
		"broker":         map[string]any{"transport": transport},
		"rusage":         "N/A",
	}
}
