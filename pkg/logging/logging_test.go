package logging

import (
	"bytes"
	"encoding/json"
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

func TestLinesCarryMillisecondUTCTimeServiceRoleVersionAndOneComponent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := New(&buf, Options{Level: "info", Format: "json", Service: "fundigo", Version: "1.2.3"})
	require.NoError(t, err)
	log = WithRole(log, "worker")
	outer := log.With().Str(FieldComponent, "workers").Logger()
	inner := outer.With().Str(FieldComponent, "amqp_consumer").Logger()
	inner.Info().Str("queue", "q").Msg("hello")
	line := buf.Bytes()
	var m map[string]any
	require.NoError(t, json.Unmarshal(line, &m), "%s", line)
	require.Equal(t, 1, bytes.Count(line, []byte(`"component":`)), "%s", line)
	require.Equal(t, "amqp_consumer", m["component"])
	require.Equal(t, "fundigo", m["service"])
	require.Equal(t, "worker", m["role"])
	require.Equal(t, "1.2.3", m["version"])
	require.Equal(t, "q", m["queue"])
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, m["time"])
}
