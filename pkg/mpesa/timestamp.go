package mpesa

import (
	"fmt"
	"time"
	_ "time/tzdata" // Africa/Nairobi must resolve on hosts without zoneinfo
)

// TimestampLayout is Daraja's YYYYMMDDHHmmss layout (Timestamp, TransactionDate).
const TimestampLayout = "20060102150405"

// nairobi is Kenya time (EAT, UTC+3, no DST). Daraja reads and writes every
// timestamp in it; a Password built from a UTC timestamp is rejected.
var nairobi = mustLoadNairobi()

func mustLoadNairobi() *time.Location {
	loc, err := time.LoadLocation("Africa/Nairobi")
	if err != nil {
		// Unreachable with time/tzdata embedded; a programmer error if it happens.
		panic(fmt.Sprintf("load Africa/Nairobi: %v", err))
	}
	return loc
}

// Nairobi returns the Africa/Nairobi location.
func Nairobi() *time.Location { return nairobi }

// FormatTimestamp renders t as a Daraja timestamp in Kenya time.
func FormatTimestamp(t time.Time) string { return t.In(nairobi).Format(TimestampLayout) }

// ParseTimestamp parses a Daraja timestamp as Kenya time.
func ParseTimestamp(s string) (time.Time, error) {
	t, err := time.ParseInLocation(TimestampLayout, s, nairobi)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse daraja timestamp: %w", err)
	}
	return t, nil
}
