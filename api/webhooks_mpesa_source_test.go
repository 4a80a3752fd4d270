package api

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSourceFilter(t *testing.T) {
	t.Parallel()
	f, err := newSourceFilter([]string{"196.201.214.0/24", "196.201.212.69"}, []string{"10.0.0.0/8"})
	require.NoError(t, err)
	tests := []struct {
		name, remote, xff, want string
		ok                      bool
	}{
		{"direct allowed", "196.201.214.200:5000", "", "196.201.214.200", true},
		{"direct refused", "8.8.8.8:5000", "", "8.8.8.8", false},
		{"spoofed xff from untrusted peer", "8.8.8.8:5000", "196.201.214.200", "8.8.8.8", false},
		{"via trusted proxy", "10.1.1.1:80", "196.201.212.69", "196.201.212.69", true},
		{"via two trusted proxies", "10.1.1.1:80", "196.201.214.7, 10.2.2.2", "196.201.214.7", true},
		{"client-supplied prefix ignored", "10.1.1.1:80", "196.201.214.7, 8.8.8.8", "8.8.8.8", false},
		{"garbage hop", "10.1.1.1:80", "nonsense", "nonsense", false},
		{"proxy without xff", "10.1.1.1:80", "", "10.1.1.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			src, ok := f.allowed(r)
			require.Equal(t, tt.want, src)
			require.Equal(t, tt.ok, ok)
		})
	}
	open, err := newSourceFilter(nil, nil)
	require.NoError(t, err)
	_, ok := open.allowed(httptest.NewRequest("POST", "/", nil))
	require.True(t, ok, "no allowlist allows everyone")
}
