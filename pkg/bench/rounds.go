package bench

import (
	"slices"
)

// Median merges the reports of several rounds of one scenario into one. On a
// shared machine a single round can land on a burst of someone else's work;
// running baseline and scenario alternately several times and keeping the
// middle is more honest than any single figure. For each result name:
//
//   - the reported result is the round whose throughput is the median;
//   - its Ratio is the median of the per-round ratios, each comparing the
//     result with the baseline measured next to it in the same round;
//   - RoundRates lists every round's throughput, so the spread is visible;
//   - the Verdict is checked again against the merged figures.
//
// With an even number of rounds the lower middle is taken. The first
// report's metadata (scenario, machine, options, start) is kept.
func Median(rounds []*Report) *Report {
	if len(rounds) == 0 {
		return nil
	}
	if len(rounds) == 1 {
		return rounds[0]
	}
	first := rounds[0]
	out := &Report{Scenario: first.Scenario, Started: first.Started, Machine: first.Machine, Options: first.Options, Rounds: len(rounds)}
	byName := map[string][]Result{}
	var order []string
	for _, r := range rounds {
		for _, res := range r.Results {
			if _, seen := byName[res.Name]; !seen {
				order = append(order, res.Name)
			}
			byName[res.Name] = append(byName[res.Name], res)
		}
	}
	for _, name := range order {
		all := byName[name]
		sorted := slices.Clone(all)
		slices.SortStableFunc(sorted, func(a, b Result) int { return cmpFloat(a.Throughput, b.Throughput) })
		mid := sorted[(len(sorted)-1)/2]
		mid.RoundRates = make([]float64, len(all))
		ratios := make([]float64, 0, len(all))
		for i, r := range all {
			mid.RoundRates[i] = r.Throughput
			if r.Ratio > 0 {
				ratios = append(ratios, r.Ratio)
			}
		}
		mid.Ratio = 0
		if len(ratios) > 0 {
			slices.Sort(ratios)
			mid.Ratio = ratios[(len(ratios)-1)/2]
		}
		if mid.Target != nil {
			mid.Verdict = mid.Target.Check(mid)
		}
		out.Results = append(out.Results, mid)
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
