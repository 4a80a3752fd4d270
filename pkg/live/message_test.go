package live

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseStreamID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want StreamID
		ok   bool
	}{
		{"1700000000000-0", StreamID{1700000000000, 0}, true},
		{"5-12", StreamID{5, 12}, true},
		{"7", StreamID{7, 0}, true},
		{"", StreamID{}, false},
		{"abc", StreamID{}, false},
		{"1-x", StreamID{}, false},
		{"-1", StreamID{}, false},
		{"1-2-3", StreamID{}, false},
		{"99999999999999999999999-0", StreamID{}, false},
	} {
		got, err := ParseStreamID(tc.in)
		if !tc.ok {
			require.True(t, errors.Is(err, ErrBadID), tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
		require.Equal(t, tc.in == got.String() || tc.in == "7", true, tc.in)
	}
	require.True(t, StreamID{1, 9}.Less(StreamID{2, 0}))
	require.True(t, StreamID{2, 0}.Less(StreamID{2, 1}))
	require.False(t, StreamID{2, 1}.Less(StreamID{2, 1}))
}

func TestFanoutFrameRoundTrip(t *testing.T) {
	t.Parallel()
	owner, m, ok := parseFanout("u-1\n5-0\npayment.paid\n1700000000000000\n{\"a\":1}")
	require.True(t, ok)
	require.Equal(t, "u-1", owner)
	require.Equal(t, "5-0", m.ID)
	require.Equal(t, "payment.paid", m.Type)
	require.NotNil(t, m.At)
	require.JSONEq(t, `{"a":1}`, string(m.Data))
	_, _, ok = parseFanout("u-1\n5-0")
	require.False(t, ok)
}

func TestValidOwner(t *testing.T) {
	t.Parallel()
	require.True(t, ValidOwner("42"))
	require.False(t, ValidOwner(""))
	require.False(t, ValidOwner("a b"))
	require.False(t, ValidOwner("a\nb"))
	require.False(t, ValidOwner(string(make([]byte, 129))))
}
