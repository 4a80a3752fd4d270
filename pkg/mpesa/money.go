package mpesa

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidAmount is returned by ParseCents for text that is not a plain
// decimal amount of shillings.
var ErrInvalidAmount = errors.New("mpesa: invalid amount")

// maxCents bounds parsed amounts far above any M-Pesa limit so arithmetic
// on them can never overflow.
const maxCents = int64(1) << 53

// ParseCents parses a Daraja amount ("1", "1.00", "1500.00", "-660.00",
// "1.5") into cents. Amounts are decimal text, never float64: a third or later
// fractional digit must be zero, exponents and signs other than a leading
// "-" are rejected.
func ParseCents(s string) (int64, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") {
		return 0, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
	}
	var cents int64
	for _, r := range whole {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
		}
		cents = cents*10 + int64(r-'0')
		if cents > maxCents/100 {
			return 0, fmt.Errorf("%w: too large", ErrInvalidAmount)
		}
	}
	cents *= 100
	for i, r := range frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
		}
		d := int64(r - '0')
		switch i {
		case 0:
			cents += d * 10
		case 1:
			cents += d
		default:
			if d != 0 {
				return 0, fmt.Errorf("%w: below one cent: %q", ErrInvalidAmount, s)
			}
		}
	}
	if neg {
		cents = -cents
	}
	return cents, nil
}
