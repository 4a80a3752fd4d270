package bench

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProgressBarDrawsAndFinishes(t *testing.T) {
	t.Parallel()
	for _, opts := range []Options{{Count: 10}, {Duration: time.Second}} {
		var buf bytes.Buffer
		p := NewProgressBar(&buf, "phase", opts)
		p(Progress{Done: 5, Errors: 1, Elapsed: 500 * time.Millisecond})
		p(Progress{Done: 10, Errors: 1, Elapsed: time.Second})
		require.Contains(t, buf.String(), "phase", "the bar names its phase")
	}
	require.False(t, IsTerminal(&bytes.Buffer{}), "a buffer is not a terminal")
	f, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	defer f.Close()
	require.False(t, IsTerminal(f), "a file is not a terminal")
}
