package bench

import (
	"crypto/rand"
	"encoding/hex"
)

// ScratchName returns prefix plus a random suffix, for the schemas, queues
// and keys a run creates and removes; it is a valid SQL identifier and AMQP
// and Asynq name when prefix is.
func ScratchName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// payload returns n bytes of printable filler.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}
