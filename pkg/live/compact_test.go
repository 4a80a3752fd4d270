package live

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// The events of one message to many owners share one data slice, compacted
// once; any other slice is compacted on its own, and a refusal is kept
// with its slice.
func TestCompactedReusesOnlyTheSameSlice(t *testing.T) {
	t.Parallel()
	var c compacted
	shared := json.RawMessage(`{ "a" : 1 }`)
	for range 3 {
		got, err := c.of(shared)
		require.NoError(t, err)
		require.Equal(t, `{"a":1}`, got)
	}
	other := json.RawMessage(`{ "b" : 2 }`)
	got, err := c.of(other)
	require.NoError(t, err)
	require.Equal(t, `{"b":2}`, got)

	// Same length and content as other, different memory: still its own.
	twin := json.RawMessage(`{ "c" : 3 }`)
	got, err = c.of(twin)
	require.NoError(t, err)
	require.Equal(t, `{"c":3}`, got)

	bad := json.RawMessage(`[1]`)
	for range 2 {
		_, err = c.of(bad)
		require.Error(t, err)
	}
	got, err = c.of(nil)
	require.NoError(t, err)
	require.Equal(t, "{}", got)
	got, err = c.of(shared[:0])
	require.NoError(t, err)
	require.Equal(t, "{}", got)
}
