package bench

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// IsTerminal reports whether w is a terminal, i.e. whether a progress bar
// drawn on it would be seen rather than pollute a log or a pipe.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// NewProgressBar returns a ProgressFunc for Options that draws a bar on w
// titled title: operations out of Count when only a count bounds the run,
// elapsed time out of Duration otherwise. The bar clears itself once the
// final snapshot arrives.
func NewProgressBar(w io.Writer, title string, opts Options) func(Progress) {
	byCount := opts.Duration == 0
	max := int64(opts.Duration / time.Millisecond)
	if byCount {
		max = opts.Count
	}
	bar := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(title),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
	return func(p Progress) {
		rate := 0.0
		if p.Elapsed > 0 {
			rate = float64(p.Done) / p.Elapsed.Seconds()
		}
		bar.Describe(fmt.Sprintf("%s %d ops %.0f/s %d errors", title, p.Done, rate, p.Errors))
		if byCount {
			_ = bar.Set64(min(p.Done, max))
		} else {
			_ = bar.Set64(min(int64(p.Elapsed/time.Millisecond), max))
		}
		if (byCount && p.Done >= max) || (!byCount && p.Elapsed >= opts.Duration) {
			_ = bar.Finish()
		}
	}
}
