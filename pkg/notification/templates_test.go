package notification

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every template the API accepts exists in English and Swahili, renders
// with exactly its declared params, and the two locales differ.
func TestTemplatesMatchTheContract(t *testing.T) {
	t.Parallel()
	tpl, err := LoadTemplates()
	require.NoError(t, err)
	var names []string
	for name := range requiredParams {
		names = append(names, name)
	}
	for _, loc := range locales {
		got := tpl.Names(loc)
		require.ElementsMatch(t, names, got, "locale %s", loc)
	}
	for name, params := range requiredParams {
		p := map[string]any{}
		for _, k := range params {
			p[k] = "1"
		}
		enTitle, enBody, err := tpl.Render(name, "en", p)
		require.NoError(t, err, name)
		swTitle, swBody, err := tpl.Render(name, "sw", p)
		require.NoError(t, err, name)
		require.NotEqual(t, enTitle, swTitle, name)
		require.NotEqual(t, enBody, swBody, name)
		if len(params) > 0 {
			_, _, err = tpl.Render(name, "en", map[string]any{})
			require.Error(t, err, "%s without params", name)
		}
	}
	_, _, err = tpl.Render("nope", "en", nil)
	require.ErrorIs(t, err, ErrUnknownTemplate)
}

func TestRenderPaymentTexts(t *testing.T) {
	t.Parallel()
	tpl, err := LoadTemplates()
	require.NoError(t, err)
	_, body, err := tpl.Render("payment_received", "en", map[string]any{"amount": float64(1500), "receipt": "QWE123"})
	require.NoError(t, err)
	require.Equal(t, "We received KES 1,500 for your job. M-Pesa receipt QWE123.", body)
	_, body, err = tpl.Render("payment_failed", "sw", map[string]any{"amount": 250, "reason": "insufficient_funds"})
	require.NoError(t, err)
	require.Contains(t, body, "salio la M-Pesa halikutosha")
	_, body, err = tpl.Render("payment_failed", "en", map[string]any{"amount": 250, "reason": "something_new"})
	require.NoError(t, err)
	require.Contains(t, body, "M-Pesa could not complete the payment", "unknown reasons read as plain words too")
	// Unknown locales fall back to English.
	title, _, err := tpl.Render("job_funded", "fr", map[string]any{"amount": 1, "job_id": "J1"})
	require.NoError(t, err)
	require.Equal(t, "Job funded", title)
}

func TestFormatKES(t *testing.T) {
	t.Parallel()
	for in, want := range map[any]string{
		float64(0): "0", 999: "999", int64(1000): "1,000", float64(1234567): "1,234,567", "2500": "2,500", "abc": "abc", -4200: "-4,200",
	} {
		require.Equal(t, want, formatKES(in), "%v", in)
	}
	require.True(t, slices.Contains(locales, "sw"))
}
