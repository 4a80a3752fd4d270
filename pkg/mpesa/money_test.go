package mpesa_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"fundigo/pkg/mpesa"
)

func TestParseCents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1", 100, true}, {"1.00", 100, true}, {"1500.00", 150000, true}, {"1.5", 150, true},
		{"0.01", 1, true}, {"-660.00", -66000, true}, {" 10 ", 1000, true}, {"1.000", 100, true},
		{"", 0, false}, {"-", 0, false}, {".5", 0, false}, {"1.", 0, false}, {"1.001", 0, false},
		{"1e3", 0, false}, {"+1", 0, false}, {"1,000", 0, false}, {"abc", 0, false},
		{"99999999999999999999", 0, false}, {"1.2.3", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := mpesa.ParseCents(tt.in)
			if !tt.ok {
				require.ErrorIs(t, err, mpesa.ErrInvalidAmount)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestReasonFor(t *testing.T) {
	t.Parallel()
	tests := map[string]mpesa.FailureReason{
		"1032": mpesa.ReasonCancelled, "1037": mpesa.ReasonTimeout, "1036": mpesa.ReasonTimeout,
		"1": mpesa.ReasonInsufficientFunds, "2001": mpesa.ReasonWrongPIN, "1019": mpesa.ReasonExpired,
		" 1032 ": mpesa.ReasonCancelled, "2": mpesa.ReasonOther, "17": mpesa.ReasonOther,
		"1001": mpesa.ReasonOther, "2028": mpesa.ReasonOther, "SFC_IC0003": mpesa.ReasonOther, "": mpesa.ReasonOther,
	}
	for code, want := range tests {
		require.Equal(t, want, mpesa.ReasonFor(code), "code %q", code)
		require.False(t, mpesa.IsSuccess(code))
	}
	require.True(t, mpesa.IsSuccess("0"))
	require.True(t, mpesa.IsSuccess(" 0"))
}

func TestTimestampAndPassword(t *testing.T) {
	t.Parallel()
	utc := time.Date(2024, 7, 6, 21, 30, 0, 0, time.UTC)
	require.Equal(t, "20240707003000", mpesa.FormatTimestamp(utc), "Kenya is UTC+3")
	got, err := mpesa.ParseTimestamp("20240707003000")
	require.NoError(t, err)
	require.True(t, got.Equal(utc))
	// base64("174379" + "pk" + "20240707003000")
	require.Equal(t, "MTc0Mzc5cGsyMDI0MDcwNzAwMzAwMA==", mpesa.Password("174379", "pk", "20240707003000"))
}
