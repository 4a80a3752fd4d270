package mpesa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalidC2B is returned by ParseC2B for a body that is not a C2B
// validation or confirmation: not JSON, no TransID, or an unreadable amount.
var ErrInvalidC2B = errors.New("mpesa: invalid c2b payment")

// MaxBillRef is the longest account reference kept (Daraja allows 20
// characters; a longer one matches nothing anyway).
const MaxBillRef = 64

// C2BPayment is a C2B validation or confirmation body. MSISDN is masked
// ("2547 ***** 126") or hashed in current Daraja versions: it is opaque and
// never the payer's identity. Names may be any Unicode or empty.
type C2BPayment struct {
	TransactionType   string
	TransID           string // the M-Pesa receipt (= STK MpesaReceiptNumber)
	TransTime         time.Time
	AmountCents       int64
	BusinessShortCode string
	BillRefNumber     string // as typed by the customer
	InvoiceNumber     string
	OrgAccountBalance string
	ThirdPartyTransID string
	MSISDN            string
	FirstName         string
	MiddleName        string
	LastName          string
}

// AccountRef is BillRefNumber as matched: trimmed and upper-cased.
func (p *C2BPayment) AccountRef() string { return NormalizeAccountRef(p.BillRefNumber) }

// NormalizeAccountRef trims and upper-cases a customer-typed account number.
func NormalizeAccountRef(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// PayerName joins the names sent (may be empty).
func (p *C2BPayment) PayerName() string {
	var parts []string
	for _, n := range []string{p.FirstName, p.MiddleName, p.LastName} {
		if n = strings.TrimSpace(n); n != "" {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, " ")
}

// ParseC2B parses a C2B validation or confirmation body.
func ParseC2B(body []byte) (*C2BPayment, error) {
	if len(body) > MaxCallbackBytes {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrInvalidC2B, MaxCallbackBytes)
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrInvalidC2B)
	}
	var in struct {
		TransactionType   FlexString `json:"TransactionType"`
		TransID           FlexString `json:"TransID"`
		TransTime         FlexString `json:"TransTime"`
		TransAmount       FlexString `json:"TransAmount"`
		BusinessShortCode FlexString `json:"BusinessShortCode"`
		BillRefNumber     FlexString `json:"BillRefNumber"`
		InvoiceNumber     FlexString `json:"InvoiceNumber"`
		OrgAccountBalance FlexString `json:"OrgAccountBalance"`
		ThirdPartyTransID FlexString `json:"ThirdPartyTransID"`
		MSISDN            FlexString `json:"MSISDN"`
		FirstName         FlexString `json:"FirstName"`
		MiddleName        FlexString `json:"MiddleName"`
		LastName          FlexString `json:"LastName"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidC2B, err)
	}
	id := strings.TrimSpace(string(in.TransID))
	if id == "" || len(id) > 64 {
		return nil, fmt.Errorf("%w: TransID missing or longer than 64 bytes", ErrInvalidC2B)
	}
	cents, err := ParseCents(string(in.TransAmount))
	if err != nil || cents <= 0 {
		return nil, fmt.Errorf("%w: TransAmount must be a positive amount", ErrInvalidC2B)
	}
	p := &C2BPayment{
		TransactionType: string(in.TransactionType), TransID: id, AmountCents: cents,
		BusinessShortCode: string(in.BusinessShortCode), BillRefNumber: truncate(string(in.BillRefNumber), MaxBillRef),
		InvoiceNumber: string(in.InvoiceNumber), OrgAccountBalance: string(in.OrgAccountBalance),
		ThirdPartyTransID: string(in.ThirdPartyTransID), MSISDN: truncate(string(in.MSISDN), 128),
		FirstName: truncate(string(in.FirstName), 100), MiddleName: truncate(string(in.MiddleName), 100),
		LastName: truncate(string(in.LastName), 100),
	}
	if t, err := ParseTimestamp(strings.TrimSpace(string(in.TransTime))); err == nil {
		p.TransTime = t
	}
	return p, nil
}

// C2B validation answers (ResultCode is a string here, unlike the confirmation ack).
const (
	C2BAccepted       = "0"
	C2BInvalidAccount = "C2B00012"
	C2BInvalidAmount  = "C2B00013"
)
