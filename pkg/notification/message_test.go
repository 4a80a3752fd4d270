package notification

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/expo"
)

// checkExpo answers what expo.Message.Validate answers for every device of
// a notification, though it measures the payload once per locale: a bad
// token fails alone, an oversized payload fails every device of that
// locale, and another locale is measured on its own.
func TestCheckExpoMatchesValidate(t *testing.T) {
	t.Parallel()
	n := Notification{Request: Request{ID: "00000000-0000-4000-8000-000000000001", Title: "t", Body: "b"}}
	r := newRenderer(nil, n)
	c, err := r.render("en")
	require.NoError(t, err)
	for _, tok := range []string{"ExpoPushToken[a]", "not-a-token", "ExponentPushToken[b]"} {
		m := expoMessage(n, Delivery{DeviceToken: tok, Locale: "en"}, c)
		want := m.Validate()
		got := r.checkExpo("en", m)
		require.Equal(t, want == nil, got == nil, tok)
		if want != nil {
			require.ErrorIs(t, got, expo.ErrInvalidToken)
		}
	}

	big := n
	big.Body = strings.Repeat("x", expo.MaxPayloadBytes)
	rb := newRenderer(nil, big)
	cb, err := rb.render("sw")
	require.NoError(t, err)
	for _, tok := range []string{"ExpoPushToken[a]", "ExpoPushToken[b]"} {
		m := expoMessage(big, Delivery{DeviceToken: tok, Locale: "sw"}, cb)
		require.ErrorIs(t, m.Validate(), expo.ErrPayloadTooLarge)
		require.ErrorIs(t, rb.checkExpo("sw", m), expo.ErrPayloadTooLarge, tok)
	}
	m := expoMessage(big, Delivery{DeviceToken: "bad", Locale: "sw"}, cb)
	require.ErrorIs(t, rb.checkExpo("sw", m), expo.ErrInvalidToken, "the token is checked before the payload")

	// A locale is measured with its own content: a small message in "en"
	// after a big one in "sw" passes.
	small := expoMessage(big, Delivery{DeviceToken: "ExpoPushToken[a]", Locale: "en"}, c)
	require.NoError(t, rb.checkExpo("en", small))
}
