package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"fundigo/pkg/metrics"
)

var metricRef = regexp.MustCompile(`\bfundigo_[a-zA-Z0-9_]+`)

// requireRegistered fails for every fundigo_ name in expr that is not a
// family the code registers (histogram series suffixes allowed).
func requireRegistered(t *testing.T, families []string, where, expr string) {
	t.Helper()
	refs := metricRef.FindAllString(expr, -1)
	require.NotEmpty(t, refs, "%s: expression names no fundigo_ metric: %s", where, expr)
	for _, ref := range refs {
		name := ref
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(ref, suf); ok && slices.Contains(families, base) {
				name = base
			}
		}
		require.Contains(t, families, name, "%s: %s is not a metric family the code registers", where, ref)
	}
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
	} `json:"datasource"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// The Grafana dashboard is valid JSON, every panel has an id, a Prometheus
// datasource and queries, and every query names families the code registers.
func TestDashboardQueriesRegisteredMetrics(t *testing.T) {
	t.Parallel()
	families := metrics.Families()
	require.Contains(t, families, "fundigo_tasks_total")
	raw, err := os.ReadFile("../../deployments/grafana/fundigo-async.json")
	require.NoError(t, err)
	var dash struct {
		Title  string  `json:"title"`
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.NotEmpty(t, dash.Title)
	require.NotEmpty(t, dash.UID)
	ids := map[int]bool{}
	queries := 0
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			require.False(t, ids[p.ID], "panel id %d twice", p.ID)
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			require.NotNil(t, p.Datasource, p.Title)
			require.Equal(t, "prometheus", p.Datasource.Type, p.Title)
			require.NotEmpty(t, p.Targets, p.Title)
			for _, tg := range p.Targets {
				require.NotEmpty(t, tg.RefID, p.Title)
				requireRegistered(t, families, "panel "+p.Title, tg.Expr)
				queries++
			}
		}
	}
	walk(dash.Panels)
	require.Greater(t, queries, 20)
}

// The alert rules parse, every rule is complete and names registered
// families, and the alerts are all there. (`promtool check rules`
// in .ci/run checks the PromQL itself.)
func TestAlertRulesNameRegisteredMetrics(t *testing.T) {
	t.Parallel()
	families := metrics.Families()
	raw, err := os.ReadFile("../../deployments/prometheus/alerts.yaml")
	require.NoError(t, err)
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	require.NotEmpty(t, doc.Groups)
	var alerts []string
	for _, g := range doc.Groups {
		require.NotEmpty(t, g.Name)
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			require.NotEmpty(t, r.For, r.Alert)
			require.NotEmpty(t, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			requireRegistered(t, families, "alert "+r.Alert, r.Expr)
			alerts = append(alerts, r.Alert)
		}
	}
	for _, want := range []string{"FundigoOutboxStuck", "FundigoDeadLetteredMessages", "FundigoInboxStuck",
		"FundigoNoSchedulerLeader", "FundigoExpiredPaymentsHigh", "FundigoExpoThrottled", "FundigoTaskFailureRatio"} {
		require.Contains(t, alerts, want)
	}
}
