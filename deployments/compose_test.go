// Package deployments_test checks deployments/compose.yaml and the
// Dockerfile offline (`docker compose config` needs a Docker CLI the CI
// machine does not have): the compose file decodes strictly, every role is
// there with one shared configuration the binary accepts, and the image
// listens on 0.0.0.0 with no default role.
package deployments_test

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"fundigo/pkg/config"
)

type composeService struct {
	Build       any               `yaml:"build"`
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Deploy      map[string]any `yaml:"deploy"`
	Profiles    []string       `yaml:"profiles"`
	Healthcheck map[string]any `yaml:"healthcheck"`
	Volumes     []string       `yaml:"volumes"`
	Networks    []string       `yaml:"networks"`
	ReadOnly    bool           `yaml:"read_only"`
	SecurityOpt []string       `yaml:"security_opt"`
	CapDrop     []string       `yaml:"cap_drop"`
}

type composeFile struct {
	Name     string                    `yaml:"name"`
	XFundigo map[string]any            `yaml:"x-fundigo"`
	Services map[string]composeService `yaml:"services"`
	Networks map[string]any            `yaml:"networks"`
}

// expand resolves ${VAR:-default} the way compose does with VAR unset.
func expand(s string) string {
	return regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`).ReplaceAllString(s, "$1")
}

func TestComposeFile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("compose.yaml")
	require.NoError(t, err)
	var cf composeFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // a misspelt key fails, as `docker compose config` would
	require.NoError(t, dec.Decode(&cf))

	for _, name := range []string{"postgres", "redis", "rabbitmq", "migrate", "api", "worker", "scheduler", "mpesa-sim", "push-sim"} {
		require.Contains(t, cf.Services, name)
		require.Empty(t, cf.Services[name].Profiles, "%s runs by default", name)
	}
	for _, name := range []string{"prometheus", "grafana", "asynqmon"} {
		require.Equal(t, []string{"observability"}, cf.Services[name].Profiles, name)
	}
	require.Contains(t, cf.Services["rabbitmq"].Image, "management")
	require.Contains(t, cf.Services["rabbitmq"].Ports, "15672:15672")

	token := ""
	for _, role := range []string{"migrate", "api", "worker", "scheduler", "mpesa-sim", "push-sim"} {
		s := cf.Services[role]
		require.NotEmpty(t, s.Command, "%s: the image has no default role", role)
		require.True(t, s.ReadOnly, role)
		require.Equal(t, []string{"ALL"}, s.CapDrop, role)
		env := map[string]string{}
		for k, v := range s.Environment {
			env[k] = expand(v)
		}
		if token == "" {
			token = env["FUNDIGO_MPESA_CALLBACK_TOKEN"]
		}
		require.NotEmpty(t, token)
		require.Equal(t, token, env["FUNDIGO_MPESA_CALLBACK_TOKEN"], "%s shares the webhook token", role)
		require.True(t, strings.HasPrefix(env["FUNDIGO_HTTP_ADDR"], "0.0.0.0:"), role)
		cfg, err := config.Load(func(k string) string { return env[k] })
		require.NoError(t, err, "%s: the binary accepts the compose configuration", role)
		require.NoError(t, cfg.RequireExternalAPIs(), "%s: simulators configured as external APIs", role)
	}
	for _, role := range []string{"api", "worker", "scheduler"} {
		require.Equal(t, "service_completed_successfully", cf.Services[role].DependsOn["migrate"].Condition, role)
	}
	for _, f := range []string{"prometheus/compose-prometheus.yml", "prometheus/alerts.yaml", "grafana"} {
		_, err := os.Stat(f)
		require.NoError(t, err, f)
	}
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	df := string(raw)
	for _, m := range regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1) {
		img := m[1]
		require.Regexp(t, `:[0-9][^:]*$|:nonroot$|@sha256:`, img, "base image %s pinned", img)
		require.NotContains(t, img, ":latest")
	}
	require.Contains(t, df, "CGO_ENABLED=0", "static binary")
	require.Contains(t, df, "distroless/static")
	require.Regexp(t, `(?m)^USER 65532`, df, "non-root")
	require.Contains(t, df, "FUNDIGO_HTTP_ADDR=0.0.0.0:8080")
	require.NotRegexp(t, `(?m)^CMD`, df, "no default role")

	ign, err := os.ReadFile("../.dockerignore")
	require.NoError(t, err)
	for _, want := range []string{".git", "**/secrets.env"} {
		require.Contains(t, string(ign), want)
	}
}
