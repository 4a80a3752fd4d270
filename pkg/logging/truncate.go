package logging

import (
	"strconv"
	"unicode/utf8"
)

// MaxIDLen is how many bytes of an identifier TruncateID keeps.
const MaxIDLen = 64

// TruncateID bounds an identifier taken from input (CheckoutRequestID,
// Idempotency-Key, inbox key) before it is logged, so a hostile 60 KB id
// cannot flood the logs: past MaxIDLen bytes it keeps the start (cut on a
// rune boundary) and says how long the original was.
func TruncateID(id string) string {
	if len(id) <= MaxIDLen {
		return id
	}
	cut := MaxIDLen
	for cut > 0 && !utf8.RuneStart(id[cut]) {
		cut--
	}
	return id[:cut] + "…(" + strconv.Itoa(len(id)) + " bytes)"
}
