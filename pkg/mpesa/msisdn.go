package mpesa

import (
	"errors"
	"strings"
)

// ErrInvalidMSISDN is returned by NormalizeMSISDN for anything that is not a
// Kenyan mobile number in one of the accepted spellings.
var ErrInvalidMSISDN = errors.New("mpesa: invalid msisdn")

// NormalizeMSISDN turns the spellings customers and apps use for a Safaricom
// number into the form Daraja wants, 254XXXXXXXXX (12 digits, no "+"):
//
//	07XXXXXXXX, 01XXXXXXXX        local form
//	+2547XXXXXXXX, +2541XXXXXXXX  international form
//	2547XXXXXXXX, 2541XXXXXXXX    Daraja form
//
// Spaces and dashes are ignored anywhere. Any other input, including other
// countries, landlines and a bare 7XXXXXXXX, is ErrInvalidMSISDN.
func NormalizeMSISDN(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r == ' ' || r == '-':
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			return "", ErrInvalidMSISDN
		}
	}
	d := b.String()
	var national string // the 9 digits after the country code, starting with 7 or 1
	switch {
	case strings.HasPrefix(d, "+254"):
		national = d[4:]
	case strings.HasPrefix(d, "254"):
		national = d[3:]
	case strings.HasPrefix(d, "0"):
		national = d[1:]
	default:
		return "", ErrInvalidMSISDN
	}
	if len(national) != 9 || (national[0] != '7' && national[0] != '1') {
		return "", ErrInvalidMSISDN
	}
	return "254" + national, nil
}

// ValidMSISDN reports whether s is already in normalised Daraja form.
func ValidMSISDN(s string) bool {
	n, err := NormalizeMSISDN(s)
	return err == nil && n == s
}
