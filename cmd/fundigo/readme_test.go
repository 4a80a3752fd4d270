package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReadmeFirstTenMinutes runs the README's "First ten minutes" commands,
// as a newcomer would paste them, against a fresh `fundigo all` started with
// the environment the README's first block exports. Only the addresses
// change (the test's instance listens on free ports, not 8080 and 8092);
// the commands run with bash from the repository root, in one shell as in
// one terminal. Each step's visible outcome is then checked in the output.
func TestReadmeFirstTenMinutes(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	blocks := readmeBlocks(t, string(readme), "## First ten minutes")
	require.GreaterOrEqual(t, len(blocks), 3)

	// The first block is terminal 1: the environment to run with.
	start := blocks[0]
	require.Contains(t, start, "bin/fundigo all")
	exports := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^export (FUNDIGO_[A-Z_]+)=(\S+)$`).FindAllStringSubmatch(start, -1) {
		exports[m[1]] = m[2]
	}
	require.Contains(t, exports, "FUNDIGO_API_KEYS")
	pushAddr := freeAddr(t)
	exports["FUNDIGO_PUSHSIM_ADDR"] = pushAddr
	getenv, base := testEnv(t, exports)
	stop, logs := startAll(t, getenv, base)
	defer func() { require.NoError(t, stop()) }()

	script := strings.Join(blocks[1:], "\n")
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", base)
	script = strings.ReplaceAll(script, "http://127.0.0.1:8092", "http://"+pushAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = root
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), "stdout:\n%s\nstderr:\n%s\nlogs:\n%s", out.String(), errOut.String(), tail(logs.String(), 3000))
	got := out.String()
	t.Logf("README commands printed:\n%s", got)

	for step, want := range map[string]string{
		"ready":                       `"status":"ok"`,
		"payment settles":             `"job_id":"job-1"`,
		"own callback accepted":       `{"ResultCode":0,"ResultDesc":"Accepted"}`,
		"own callback settles":        `"mpesa_receipt":"NLJ7RT61SV"`,
		"device registered":           `"token":"ExponentPushToken[first-ten-minutes]"`,
		"rendered push (Swahili)":     `"title":"Malipo yamepokelewa"`,
		"rating read":                 `"technician_id":"tech-1","count":2`,
		"reviews listed with a next":  `"next":"/v1/technicians/tech-1/reviews?cursor=`,
		"schedule task read":          `"type":"payments:reconcile"`,
		"payments listed with a next": `"next":"/v1/payments?cursor=`,
	} {
		require.Contains(t, got, want, "step %q: output:\n%s\nstderr:\n%s\npayment logs:\n%s", step, got, errOut.String(), paymentLines(logs.String()))
	}
	require.GreaterOrEqual(t, strings.Count(got, `"status":"paid"`), 3, "both payments end paid, and the list shows one:\n%s", got)
}

// paymentLines keeps the log lines about payments, confirmations and tasks:
// what a slow "own callback settles" step needs to be understood.
func paymentLines(logs string) string {
	var b strings.Builder
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"component":"payments"`) || strings.Contains(l, "payments:confirm") ||
			strings.Contains(l, "stk ") || strings.Contains(l, `"level":"warn"`) || strings.Contains(l, `"level":"error"`) {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return tail(b.String(), 6000)
}

// readmeBlocks returns the ```sh blocks of the README section under heading
// (up to the next "## " heading).
func readmeBlocks(t *testing.T, readme, heading string) []string {
	t.Helper()
	i := strings.Index(readme, heading+"\n")
	require.GreaterOrEqual(t, i, 0, "README has no %q section", heading)
	section := readme[i+len(heading):]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}
