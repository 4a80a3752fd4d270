package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/config"
)

// A process that runs the workers gets one connection per push sender loop
// on top of FUNDIGO_DATABASE_MAX_CONNS; other roles get the setting as it is.
func TestPoolConnsGiveTheSenderLoopsTheirOwn(t *testing.T) {
	t.Parallel()
	var cfg config.Config
	cfg.Database.MaxConns = 20
	cfg.Notifications.SendLoops, cfg.Notifications.FanOutLoops = 4, 2
	for role, want := range map[string]int32{"worker": 26, "all": 26, "bench": 26, "api": 20, "scheduler": 20, "worker-bindings": 20} {
		require.Equal(t, want, poolConns(cfg, role), role)
	}
	cfg.Notifications.SendLoops, cfg.Notifications.FanOutLoops = config.MaxPushLoops, config.MaxPushLoops
	require.Equal(t, int32(20+2*config.MaxPushLoops), poolConns(cfg, "worker"), "bounded by the loop limits")
}
