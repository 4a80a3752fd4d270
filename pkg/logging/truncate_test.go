package logging_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/logging"
)

func TestTruncateID(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ws_CO_1", logging.TruncateID("ws_CO_1"))
	exact := strings.Repeat("a", logging.MaxIDLen)
	require.Equal(t, exact, logging.TruncateID(exact))
	got := logging.TruncateID(strings.Repeat("b", 60000))
	require.Equal(t, strings.Repeat("b", logging.MaxIDLen)+"…(60000 bytes)", got)
	// never cuts inside a rune
	got = logging.TruncateID(strings.Repeat("a", logging.MaxIDLen-1) + strings.Repeat("é", 10))
	require.True(t, strings.HasPrefix(got, strings.Repeat("a", logging.MaxIDLen-1)+"…"))
}
