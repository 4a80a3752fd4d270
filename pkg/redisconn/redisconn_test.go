package redisconn_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/redisconn"
)

func TestParseSentinel(t *testing.T) {
	t.Parallel()
	fo, err := redisconn.ParseSentinel("redis-sentinel://:p%40ss@10.0.0.1:26379,s2.example:26380/3?master=fundigo&sentinel_password=sp")
	require.NoError(t, err)
	require.Equal(t, []string{"10.0.0.1:26379", "s2.example:26380"}, fo.SentinelAddrs)
	require.Equal(t, "p@ss", fo.Password)
	require.Equal(t, 3, fo.DB)
	require.Equal(t, "fundigo", fo.MasterName)
	require.Equal(t, "sp", fo.SentinelPassword)
	for _, bad := range []string{
		"redis-sentinel://h:26379/0",              // no master
		"redis-sentinel://h/0?master=m",           // no port
		"redis-sentinel://h:1,/0?master=m",        // empty host
		"redis-sentinel://h:26379/99?master=m",    // db out of range
		"redis-sentinel://h:26379/0?master=m&x=1", // unknown parameter
		"redis-sentinel://:secret@h:0/0?master=m", // port 0
	} {
		_, err := redisconn.ParseSentinel(bad)
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), "secret")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProc runs a redis-server (or sentinel) with the config text, on a
// port of its own, until the test ends.
func startProc(t *testing.T, dir, name, conf string, port int) *redis.Client {
	t.Helper()
	path := filepath.Join(dir, name+".conf")
	require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))
	args := []string{path}
	if name == "sentinel" {
		args = append(args, "--sentinel")
	}
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, name+".log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			t.Logf("%s log:\n%s", name, b)
		}
	})
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	t.Cleanup(func() { _ = c.Close() })
	require.Eventually(t, func() bool { return c.Ping(context.Background()).Err() == nil }, 20*time.Second, 20*time.Millisecond, name+" up")
	return c
}

// The binary's Redis connection (go-redis and Asynq) goes through a
// Sentinel and survives a failover: tasks enqueued before it run after it,
// on the new primary. The test runs its own primary, replica and Sentinel on
// free ports; the shared Redis is not touched.
func TestSentinelFailoverKeepsTasks(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	pPort, rPort, sPort := freePort(t), freePort(t), freePort(t)
	base := "bind 127.0.0.1\nsave \"\"\nappendonly no\nrepl-diskless-sync no\n"
	primary := startProc(t, dir, "primary", base+fmt.Sprintf("port %d\n", pPort), pPort)
	replica := startProc(t, dir, "replica", base+fmt.Sprintf("port %d\nreplicaof 127.0.0.1 %d\n", rPort, pPort), rPort)
	require.Eventually(t, func() bool {
		info, err := replica.Info(ctx, "replication").Result()
		return err == nil && contains(info, "master_link_status:up")
	}, 30*time.Second, 50*time.Millisecond, "replica synced")
	startProc(t, dir, "sentinel", fmt.Sprintf("bind 127.0.0.1\nport %d\n"+
		"sentinel monitor fundigo 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds fundigo 1000\n"+
		"sentinel failover-timeout fundigo 10000\n", sPort, pPort), sPort)
	sentinel := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", sPort)})
	defer sentinel.Close()
	require.Eventually(t, func() bool {
		r, err := sentinel.Replicas(ctx, "fundigo").Result()
		return err == nil && len(r) == 1
	}, 30*time.Second, 50*time.Millisecond, "sentinel sees the replica")

	url := fmt.Sprintf("redis-sentinel://127.0.0.1:%d/0?master=fundigo", sPort)
	rdb, connOpt, err := redisconn.Open(url)
	require.NoError(t, err)
	defer rdb.Close()
	require.NoError(t, rdb.Set(ctx, "before", "1", 0).Err())

	client := asynq.NewClient(connOpt)
	defer client.Close()
	const n = 20
	for i := range n {
		_, err := client.EnqueueContext(ctx, asynq.NewTask("sentinel:test", []byte(fmt.Sprint(i))), asynq.Queue("sentinel"))
		require.NoError(t, err)
	}
	// Every write is on the replica before the failover (async replication
	// would otherwise be allowed to lose the tail).
	require.NoError(t, primary.Do(ctx, "WAIT", 1, 5000).Err())

	// Sentinel lists the replica as soon as the primary names it, but it
	// promotes only a replica it has itself heard from (its INFO says the
	// link to the primary is up); until then FAILOVER answers NOGOODSLAVE.
	// A CI run asked too early; only that answer is retried.
	require.Eventually(t, func() bool {
		err := sentinel.Failover(ctx, "fundigo").Err()
		if err != nil && !strings.Contains(err.Error(), "NOGOODSLAVE") {
			require.NoError(t, err)
		}
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "sentinel accepts the failover")
	require.Eventually(t, func() bool {
		addr, err := sentinel.GetMasterAddrByName(ctx, "fundigo").Result()
		return err == nil && addr[1] == fmt.Sprint(rPort)
	}, 60*time.Second, 100*time.Millisecond, "replica promoted")
	require.Eventually(t, func() bool {
		role, err := replica.Do(ctx, "ROLE").Slice()
		return err == nil && len(role) > 0 && role[0] == "master"
	}, 30*time.Second, 50*time.Millisecond)

	// The go-redis client follows the new primary (reads and writes).
	require.Eventually(t, func() bool {
		return rdb.Set(ctx, "after", "1", 0).Err() == nil
	}, 30*time.Second, 100*time.Millisecond, "write after failover")
	require.Equal(t, "1", rdb.Get(ctx, "before").Val())

	// The tasks enqueued before the failover run after it.
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := asynq.NewServer(connOpt, asynq.Config{Concurrency: 4, Queues: map[string]int{"sentinel": 1},
		LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("sentinel:test", func(_ context.Context, task *asynq.Task) error {
		mu.Lock()
		defer mu.Unlock()
		seen[string(task.Payload())] = true
		return nil
	})
	require.NoError(t, srv.Start(mux))
	defer srv.Shutdown()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	}, 60*time.Second, 50*time.Millisecond, "all %d tasks ran after the failover", n)
	_, err = client.EnqueueContext(ctx, asynq.NewTask("sentinel:test", []byte("new")), asynq.Queue("sentinel"))
	require.NoError(t, err, "enqueue after failover")
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
