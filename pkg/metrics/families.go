package metrics

import (
	"regexp"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"fundigo/pkg/health"
	"fundigo/pkg/live"
)

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Families lists the name of every fundigo_ metric family the code
// registers (in-line, scrape-time, HTTP, readiness), sorted, so dashboards
// and alert rules can be checked against it.
func Families() []string {
	reg := prometheus.NewRegistry()
	New(reg)
	h := newHTTP()
	cs := []prometheus.Collector{h.Requests, h.Duration, health.NewReadiness(),
		NewAsynq(nil, nil), NewAMQPQueues(nil, nil), NewSQL(nil), NewScheduler(nil, nil, "", ""),
		reg}
	cs = append(cs, live.NewMetrics(nil).Collectors()...)
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	seen := map[string]bool{}
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			seen[m[1]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
