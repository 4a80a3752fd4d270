// Package mpesa is a client for Safaricom's Daraja API (M-Pesa Express / STK
// Push and STK Push Query) plus the pieces every M-Pesa consumer needs and
// nothing else: MSISDN normalisation, the STK callback parser, and the mapping
// of Daraja result codes to our failure reasons.
//
// It carries no payment workflow: it does not know about payment rows, states
// or events. Those live in workers/payments.
//
// Facts and quirks this package encodes (see shared/reference/mpesa-daraja.md):
//   - Daraja numbers arrive as JSON numbers or strings (ResultCode 0 vs
//     "SFC_IC0003", Amount 1.00 vs "1500.00"); every such field decodes through
//     FlexString and json.Decoder.UseNumber, never float64.
//   - Callback metadata items are looked up by Name, never by position.
//   - The STK Password timestamp is Kenya time (Africa/Nairobi, tzdata embedded).
//   - Each OAuth token request invalidates the previous token, so the token is
//     cached in Redis and shared by every process, refreshed by one at a time.
//   - A push whose outcome is unknown must never be re-sent: ErrAmbiguous tells
//     the caller to settle it with STK Push Query instead.
package mpesa
