package mpesa

import "strings"

// parseCallbackFast decodes the shape Daraja actually sends without
// encoding/json's reflection (about a tenth of its CPU and allocations; the
// intake and the applier both parse every callback). It is deliberately
// narrow: it accepts only keys spelled exactly as Daraja spells them, each
// at most once, strings without escapes, string or number values, and no
// nulls. For anything else it returns ok = false, and ParseCallback falls
// back to the encoding/json decoder, which is the reference: whenever the
// fast path answers, the answer is the one the decoder would give
// (FuzzParseCallbackFastMatchesDecoder checks it). It also answers ok =
// false when the callback fails a check, so errors always come from the
// reference decoder. body is UTF-8 and within MaxCallbackBytes (checked by
// the caller).
func parseCallbackFast(body []byte) (cb *STKCallback, ok bool) {
	s := scanner{b: body}
	var merchant, checkout, code, desc string
	var haveCode bool
	type item struct{ name, text string }
	var items []item

	ok = s.object(func(key []byte) bool { // the envelope
		if string(key) != "Body" {
			return false
		}
		return s.object(func(key []byte) bool {
			if string(key) != "stkCallback" {
				return false
			}
			var seen [5]bool
			return s.object(func(key []byte) bool {
				var slot int
				var dst *string
				switch string(key) {
				case "MerchantRequestID":
					slot, dst = 0, &merchant
				case "CheckoutRequestID":
					slot, dst = 1, &checkout
				case "ResultCode":
					slot, dst, haveCode = 2, &code, true
				case "ResultDesc":
					slot, dst = 3, &desc
				case "CallbackMetadata":
					if seen[4] {
						return false
					}
					seen[4] = true
					return s.object(func(key []byte) bool {
						if string(key) != "Item" || items != nil {
							return false
						}
						items = make([]item, 0, 5)
						n := 0 // elements, with a Value or not
						return s.array(func() bool {
							if n++; n > MaxMetadataItems {
								return false
							}
							var it item
							var haveName, haveValue bool
							ok := s.object(func(key []byte) bool {
								var ok bool
								switch {
								case string(key) == "Name" && !haveName:
									haveName = true
									var name []byte
									name, ok = s.raw()
									it.name = itemName(name)
								case string(key) == "Value" && !haveValue:
									haveValue = true
									it.text, ok = s.scalar()
								}
								return ok
							})
							if !ok || !haveName || len(it.name) > MaxMetadataTextLen {
								return false
							}
							if haveValue {
								items = append(items, it)
							}
							return true
						})
					})
				default:
					return false
				}
				if seen[slot] {
					return false
				}
				seen[slot] = true
				var ok bool
				*dst, ok = s.scalar()
				return ok
			})
		})
	})
	if !ok || !s.end() || !haveCode {
		return nil, false
	}
	cb = &STKCallback{
		MerchantRequestID: strings.TrimSpace(merchant),
		CheckoutRequestID: strings.TrimSpace(checkout),
		ResultCode:        NormalizeResultCode(code),
		ResultDesc:        desc,
	}
	if cb.CheckoutRequestID == "" || cb.ResultCode == "" {
		return nil, false
	}
	texts := make(map[string]string, len(items))
	for _, it := range items {
		texts[it.name] = cb.Metadata.setText(it.name, it.text)
	}
	if cb.validate(texts) != nil {
		return nil, false
	}
	return cb, true
}

// scanner reads JSON from b at i. Every method returns false on anything
// outside the narrow grammar of parseCallbackFast.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// end reports whether only whitespace is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object reads {"key": value, …}, calling member for each key with the
// scanner at the value, which member must consume. key is only valid during
// the call.
func (s *scanner) object(member func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		key, ok := s.raw()
		if !ok || s.peek() != ':' {
			return false
		}
		s.i++
		if !member(key) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array reads [elem, …], calling elem with the scanner at each element.
func (s *scanner) array(elem func() bool) bool {
	if s.peek() != '[' {
		return false
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// str reads a string without escapes or control characters.
func (s *scanner) str() (string, bool) {
	b, ok := s.raw()
	return string(b), ok
}

// raw is str without the copy: the bytes between the quotes.
func (s *scanner) raw() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// itemName returns name as a string, without allocating for the names
// Daraja sends.
func itemName(name []byte) string {
	switch string(name) {
	case "Amount":
		return "Amount"
	case "MpesaReceiptNumber":
		return "MpesaReceiptNumber"
	case "TransactionDate":
		return "TransactionDate"
	case "PhoneNumber":
		return "PhoneNumber"
	case "Balance":
		return "Balance"
	}
	return string(name)
}

// scalar reads a string or a number and returns its text as FlexString
// would (a number keeps its literal form).
func (s *scanner) scalar() (string, bool) {
	switch c := s.peek(); {
	case c == '"':
		return s.str()
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	}
	return "", false
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() (string, bool) {
	b, j := s.b, s.i
	digits := func() bool {
		k := j
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case !digits():
		return "", false
	}
	if j < len(b) && b[j] == '.' {
		j++
		if !digits() {
			return "", false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if !digits() {
			return "", false
		}
	}
	text := string(b[s.i:j])
	s.i = j
	return text, true
}
