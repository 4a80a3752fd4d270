package expo_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/expo"
)

func TestIsPushToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		token string
		want  bool
	}{
		{"ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]", true},
		{"ExpoPushToken[abc-123_DEF]", true},
		{"ExponentPushToken[]", false},
		{"ExponentPushToken[abc", false},
		{"ExponentPushToken[a b]", false},
		{"ExponentPushToken[a]b]", false},
		{"exponentpushtoken[abc]", false},
		{"abc", false},
		{"", false},
		{"ExponentPushToken[" + strings.Repeat("a", 201) + "]", false},
	} {
		require.Equal(t, tc.want, expo.IsPushToken(tc.token), tc.token)
	}
}

func TestMessageValidate(t *testing.T) {
	t.Parallel()
	ok := expo.Message{To: "ExpoPushToken[a]", Title: "t", Body: "b"}
	require.NoError(t, ok.Validate())

	bad := ok
	bad.To = "fcm-token"
	require.ErrorIs(t, bad.Validate(), expo.ErrInvalidToken)

	big := ok
	big.Data = map[string]any{"blob": strings.Repeat("x", expo.MaxPayloadBytes)}
	require.ErrorIs(t, big.Validate(), expo.ErrPayloadTooLarge)

	// The limit is on the payload, not on the token: a payload of exactly
	// the limit passes.
	n, err := ok.PayloadSize()
	require.NoError(t, err)
	exact := ok
	exact.Body = ok.Body + strings.Repeat("y", expo.MaxPayloadBytes-n)
	size, err := exact.PayloadSize()
	require.NoError(t, err)
	require.Equal(t, expo.MaxPayloadBytes, size)
	require.NoError(t, exact.Validate())

	// The payload excludes the token, however long or escaped the token is
	// (the size is taken from the full encoding minus the token's).
	for _, tok := range []string{"", "ExpoPushToken[a]", "ExponentPushToken[" + strings.Repeat("z", 150) + "]", "x<&>\"\\\u2028"} {
		m := exact
		m.To = tok
		got, err := m.PayloadSize()
		require.NoError(t, err)
		require.Equal(t, expo.MaxPayloadBytes, got, "token %q", tok)
	}
}

func TestTicketAndReceiptErrors(t *testing.T) {
	t.Parallel()
	require.NoError(t, expo.Ticket{Status: "ok", ID: "x"}.Err())

	dnr := expo.Ticket{Status: "error", Message: "gone", Details: &expo.Details{Error: expo.CodeDeviceNotRegistered}}.Err()
	require.ErrorIs(t, dnr, expo.ErrDeviceNotRegistered)
	require.NotErrorIs(t, dnr, expo.ErrMessageTooBig)
	var me *expo.MessageError
	require.True(t, errors.As(dnr, &me))
	require.Equal(t, expo.CodeDeviceNotRegistered, me.Code)

	creds := expo.Receipt{Status: "error", Details: &expo.Details{Error: expo.CodeMismatchSenderID}}.Err()
	require.ErrorIs(t, creds, expo.ErrInvalidCredentials)

	noCode := expo.Receipt{Status: "error", Message: "boom"}.Err()
	require.Error(t, noCode)
	require.NotErrorIs(t, noCode, expo.ErrDeviceNotRegistered)
}

func TestMessageErrorOmitsToken(t *testing.T) {
	t.Parallel()
	err := expo.Ticket{Status: "error", Message: `"ExponentPushToken[secret]" is not a registered push notification recipient`,
		Details: &expo.Details{Error: expo.CodeDeviceNotRegistered}}.Err()
	require.NotContains(t, err.Error(), "secret")
	require.Contains(t, err.Error(), expo.CodeDeviceNotRegistered)
}
