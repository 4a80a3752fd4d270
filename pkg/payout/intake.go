package payout

import (
	"fundigo/pkg/mpesa"
)

// ResultKey is the inbox natural key of a B2C or Transaction Status answer:
// its OriginatorConversationID and ConversationID, so two answers about one
// request with different bodies are two rows and an identical redelivery is
// one.
func ResultKey(body []byte) (string, error) {
	r, err := mpesa.ParseResult(body)
	if err != nil {
		return "", err
	}
	return r.OriginatorConversationID + "|" + r.ConversationID, nil
}
