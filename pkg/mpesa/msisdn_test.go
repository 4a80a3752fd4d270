package mpesa_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa"
)

func TestNormalizeMSISDN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" = invalid
	}{
		{"0712345678", "254712345678"},
		{"0112345678", "254112345678"},
		{"+254712345678", "254712345678"},
		{"+254112345678", "254112345678"},
		{"254712345678", "254712345678"},
		{"254112345678", "254112345678"},
		{"0712 345 678", "254712345678"},
		{"0712-345-678", "254712345678"},
		{"+254 712 345 678", "254712345678"},
		{" 254-7-1234-5678 ", "254712345678"},
		{"254708374149", "254708374149"},
		{"", ""},
		{"712345678", ""},      // no prefix
		{"071234567", ""},      // too short
		{"07123456789", ""},    // too long
		{"2547123456789", ""},  // too long
		{"25471234567", ""},    // too short
		{"0212345678", ""},     // landline
		{"254212345678", ""},   // landline
		{"+255712345678", ""},  // Tanzania
		{"00254712345678", ""}, // not accepted
		{"254+712345678", ""},  // plus in the middle
		{"07123a5678", ""},     // letter
		{"0712.345.678", ""},   // dots
		{"٠٧١٢٣٤٥٦٧٨", ""},     // non-ASCII digits
		{"+", ""},
		{"2540712345678", ""}, // 0 after the country code
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := mpesa.NormalizeMSISDN(tt.in)
			if tt.want == "" {
				require.ErrorIs(t, err, mpesa.ErrInvalidMSISDN)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.True(t, mpesa.ValidMSISDN(got))
		})
	}
	require.False(t, mpesa.ValidMSISDN("0712345678"))
}
