package mpesa

import (
	"fmt"
	"unicode/utf8"
)

// Bounds of the STK callback fields, checked by ParseCallback at intake so a
// hostile value is refused (400, body quarantined) before it reaches the
// inbox's grouped commit, where a NUL fails PostgreSQL with SQLSTATE 22021 and
// an identifier over ~2.7 KB overflows the unique index, failing every
// delivery of the batch. Real values are far below them: CheckoutRequestID
// "ws_CO_191220191020363925" (24), MerchantRequestID "29115-34620561-1",
// ResultCode 0/1032/"SFC_IC0003", receipt "NLJ7RT61SV" (10), PhoneNumber
// 254708374149. The bounds are generous on purpose: Daraja does not retry,
// so a genuine callback refused here is only seen again by reconciliation.
const (
	MaxCheckoutRequestIDLen = 64  // bytes; [A-Za-z0-9_.-], required
	MaxMerchantRequestIDLen = 64  // bytes; [A-Za-z0-9_.-], may be empty
	MaxResultCodeLen        = 32  // bytes; [A-Za-z0-9_.-]
	MaxResultDescLen        = 512 // bytes of UTF-8 text without control characters
	MaxReceiptLen           = 32  // bytes; [A-Za-z0-9]
	MaxPhoneLen             = 20  // bytes; digits and a leading "+"
	MaxAmountLen            = 24  // bytes; digits, one ".", a leading "-"
	MaxMetadataTextLen      = 64  // bytes of TransactionDate, Balance and item names
	MaxMetadataItems        = 32
)

// validate checks the bounds above on the values as decoded (before
// trimming). The error names the field, never its value.
func (c *STKCallback) validate(raw map[string]string) error {
	checks := []struct {
		field string
		value string
		max   int
		ok    func(rune) bool
	}{
		{"CheckoutRequestID", c.CheckoutRequestID, MaxCheckoutRequestIDLen, isIDRune},
		{"MerchantRequestID", c.MerchantRequestID, MaxMerchantRequestIDLen, isIDRune},
		{"ResultCode", c.ResultCode, MaxResultCodeLen, isIDRune},
		{"ResultDesc", c.ResultDesc, MaxResultDescLen, isTextRune},
		{"MpesaReceiptNumber", raw["MpesaReceiptNumber"], MaxReceiptLen, isAlnum},
		{"PhoneNumber", raw["PhoneNumber"], MaxPhoneLen, func(r rune) bool { return r == '+' || isDigit(r) }},
		{"Amount", raw["Amount"], MaxAmountLen, func(r rune) bool { return r == '.' || r == '-' || isDigit(r) }},
		{"TransactionDate", raw["TransactionDate"], MaxMetadataTextLen, isTextRune},
		{"Balance", raw["Balance"], MaxMetadataTextLen * 4, isTextRune},
	}
	for _, ch := range checks {
		if len(ch.value) > ch.max {
			return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidCallback, ch.field, ch.max)
		}
		for _, r := range ch.value {
			if !ch.ok(r) {
				return fmt.Errorf("%w: %s has a character outside its allowed set", ErrInvalidCallback, ch.field)
			}
		}
	}
	return nil
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isAlnum(r rune) bool { return isDigit(r) || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }

func isIDRune(r rune) bool { return isAlnum(r) || r == '_' || r == '-' || r == '.' }

// isTextRune allows printable UTF-8 and spaces, never NUL or other control
// characters (tab is kept: some descriptions carry one).
func isTextRune(r rune) bool {
	return r == '\t' || (r >= 0x20 && r != 0x7f && !(r >= 0x80 && r < 0xa0) && r != utf8.RuneError)
}
