package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// fundigo runs with GOGC=400 unless the environment sets GOGC (to any
// value, "off" included), which the Go runtime then applies as usual.
func TestGOGCDefaultsUnlessSet(t *testing.T) {
	t.Parallel()
	pct, ok := gcPercent(func(string) (string, bool) { return "", false })
	require.True(t, ok)
	require.Equal(t, defaultGOGC, pct)
	for _, v := range []string{"100", "off", ""} {
		_, ok := gcPercent(func(k string) (string, bool) { return v, k == "GOGC" })
		require.False(t, ok, "GOGC=%q is the operator's", v)
	}
}
