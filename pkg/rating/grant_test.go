package rating

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func TestParseGrant(t *testing.T) {
	t.Parallel()
	key := []byte("grant-test-key-0123456789")
	now := time.Unix(1_800_000_000, 0)
	sign := func(m jwt.SigningMethod, k any, claims jwt.MapClaims) string {
		c := jwt.MapClaims{"job_id": 77, "customer_id": "300", "technician_id": " tech-1 ", "exp": now.Add(time.Hour).Unix()}
		for n, v := range claims {
			c[n] = v
		}
		s, err := jwt.NewWithClaims(m, c).SignedString(k)
		require.NoError(t, err)
		return s
	}
	g, err := ParseGrant(sign(jwt.SigningMethodHS256, key, nil), key, now)
	require.NoError(t, err)
	require.Equal(t, Grant{JobID: "77", CustomerID: "300", TechnicianID: "tech-1", ExpiresAt: now.Add(time.Hour)}, g)

	for name, raw := range map[string]string{
		"HS512":         sign(jwt.SigningMethodHS512, key, nil),
		"alg none":      sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil),
		"expired":       sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"exp": now.Add(-time.Second).Unix()}),
		"too long":      sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"exp": now.Add(MaxGrantTTL + time.Minute).Unix()}),
		"refresh token": sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"token_type": "refresh"}),
		"fractional id": sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"job_id": 4.5}),
		"blank id":      sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"customer_id": " "}),
	} {
		_, err := ParseGrant(raw, key, now)
		require.ErrorIs(t, err, ErrNotAllowed, name)
	}
	_, err = ParseGrant(sign(jwt.SigningMethodHS256, key, nil), nil, now)
	require.ErrorIs(t, err, ErrNotAllowed, "no key, no grant")
}
