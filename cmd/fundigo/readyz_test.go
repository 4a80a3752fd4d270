package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/amqpx/amqpxtest"
	"fundigo/pkg/nettest"
	"fundigo/pkg/tasks/taskstest"
)

func readyz(t *testing.T, base string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Checks
}

// TestReadyzFollowsDependencies cuts Redis and then RabbitMQ off from one
// running process (through proxies) and checks /readyz turns 503 naming the
// dependency, then 200 again once it is reachable, without a restart.
func TestReadyzFollowsDependencies(t *testing.T) {
	t.Parallel()
	redisProxy := nettest.NewProxy(t, "127.0.0.1:6379")
	amqpProxy := nettest.NewProxy(t, "127.0.0.1:5672")
	redisURL := strings.Replace(taskstest.URL(), "127.0.0.1:6379", redisProxy.Addr(), 1)
	amqpURL := strings.Replace(amqpxtest.URL(), "127.0.0.1:5672", amqpProxy.Addr(), 1)
	require.NotEqual(t, taskstest.URL(), redisURL, "test expects the default local Redis URL")
	require.NotEqual(t, amqpxtest.URL(), amqpURL, "test expects the default local RabbitMQ URL")

	getenv, base := testEnv(t, map[string]string{"FUNDIGO_REDIS_URL": redisURL, "FUNDIGO_AMQP_URL": amqpURL})
	stop, _ := startAll(t, getenv, base)

	for _, dep := range []struct {
		name  string
		proxy *nettest.Proxy
	}{{"redis", redisProxy}, {"rabbitmq", amqpProxy}} {
		dep.proxy.Cut(true)
		require.Eventually(t, func() bool {
			code, checks := readyz(t, base)
			return code == http.StatusServiceUnavailable && checks[dep.name] == "unavailable"
		}, 30*time.Second, 100*time.Millisecond, "%s down → 503", dep.name)

		dep.proxy.Cut(false)
		require.Eventually(t, func() bool {
			code, _ := readyz(t, base)
			return code == http.StatusOK
		}, 60*time.Second, 200*time.Millisecond, "%s back → 200", dep.name)
	}
	require.NoError(t, stop())
}
