package logging

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMaskMSISDN(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"254712345678": "2547****5678",
		"254112345678": "2541****5678",
		"12345":        "****",
		"":             "****",
	}
	for in, want := range cases {
		require.Equal(t, want, MaskMSISDN(in), in)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	_, err := New(&bytes.Buffer{}, Options{Level: "loud"})
	require.Error(t, err)
	_, err = New(&bytes.Buffer{}, Options{Format: "xml"})
	require.Error(t, err)
	var buf bytes.Buffer
	log, err := New(&buf, Options{Level: "info", Format: "json"})
	require.NoError(t, err)
	log.Info().Msg("hello")
	require.Contains(t, buf.String(), `"message":"hello"`)
}
