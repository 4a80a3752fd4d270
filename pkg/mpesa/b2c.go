package mpesa

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Daraja paths of the initiator APIs.
const (
	PathB2C         = "/mpesa/b2c/v3/paymentrequest"
	PathTxStatus    = "/mpesa/transactionstatus/v1/query"
	PathRegisterC2B = "/mpesa/c2b/v2/registerurl"
	PathSimulateC2B = "/mpesa/c2b/v1/simulate"
)

// B2C result codes with a failure reason of their own.
const (
	ResultB2CInsufficientBalance = "1"
	ResultInitiatorInvalid       = "2001"
	// CodeDuplicateOriginator is Daraja's synchronous refusal of an
	// OriginatorConversationID it has seen before: the payout was already
	// received, so it is not a failure of the payout.
	CodeDuplicateOriginator = "500.002.1001"
)

// Initiator is who signs B2C and Transaction Status requests.
type Initiator struct {
	Name string
	// SecurityCredential is the initiator password encrypted with
	// Safaricom's certificate (SecurityCredential()).
	SecurityCredential string
	// PartyA is the B2C shortcode paying out (default: the client's ShortCode).
	PartyA string
}

// B2CRequest is one payout: pay Amount whole KES to PartyB.
type B2CRequest struct {
	// OriginatorConversationID is ours, unique per payout: Daraja refuses a
	// second request with the same id, and results carry it back.
	OriginatorConversationID string
	Amount                   int64  // whole KES
	PartyB                   string // 254XXXXXXXXX
	Remarks                  string // 2..100 characters (padded/cut)
	Occasion                 string
	ResultURL                string
	QueueTimeOutURL          string
}

// B2CAck is Daraja's synchronous acceptance; the outcome arrives at the ResultURL.
type B2CAck struct {
	OriginatorConversationID string
	ConversationID           string
	ResponseDescription      string
}

// B2C sends a BusinessPayment. Errors classify as for STKPush: ErrNotSent and
// retryable *APIError are safe to retry, ErrAmbiguous means money may move
// (settle with Transaction Status, never re-send), other *APIError mean
// Daraja refused it (CodeDuplicateOriginator: it already has this payout).
func (c *Client) B2C(ctx context.Context, in Initiator, r B2CRequest) (B2CAck, error) {
	if in.Name == "" || in.SecurityCredential == "" {
		return B2CAck{}, fmt.Errorf("b2c %s: initiator name and security credential are required: %w",
			r.OriginatorConversationID, ErrNotSent)
	}
	body := map[string]any{
		"OriginatorConversationID": r.OriginatorConversationID,
		"InitiatorName":            in.Name,
		"SecurityCredential":       in.SecurityCredential,
		"CommandID":                "BusinessPayment",
		"Amount":                   r.Amount,
		"PartyA":                   c.partyA(in),
		"PartyB":                   r.PartyB,
		"Remarks":                  Remarks(r.Remarks),
		"QueueTimeOutURL":          r.QueueTimeOutURL,
		"ResultURL":                r.ResultURL,
		"Occassion":                truncate(r.Occasion, 100), //nolint:misspell // sic: Daraja's field name
	}
	var out initiatorAck
	if err := c.call(ctx, PathB2C, body, &out); err != nil {
		return B2CAck{}, fmt.Errorf("b2c %s: %w", r.OriginatorConversationID, err)
	}
	if err := refused(out.ResponseCode, out.ResponseDescription); err != nil {
		return B2CAck{}, fmt.Errorf("b2c %s: %w", r.OriginatorConversationID, err)
	}
	if out.ConversationID == "" {
		return B2CAck{}, fmt.Errorf("b2c %s: accepted without ConversationID: %w", r.OriginatorConversationID, ErrAmbiguous)
	}
	return B2CAck{OriginatorConversationID: string(out.OriginatorConversationID),
		ConversationID: string(out.ConversationID), ResponseDescription: string(out.ResponseDescription)}, nil
}

// initiatorAck is the synchronous answer of B2C and Transaction Status.
type initiatorAck struct {
	ConversationID           FlexString `json:"ConversationID"`
	OriginatorConversationID FlexString `json:"OriginatorConversationID"`
	ResponseCode             FlexString `json:"ResponseCode"`
	ResponseDescription      FlexString `json:"ResponseDescription"`
}

// StatusRequest asks Transaction Status about the transaction started by
// OriginalConversationID (our OriginatorConversationID of a payout) or with
// receipt TransactionID.
type StatusRequest struct {
	OriginalConversationID string
	TransactionID          string
	ResultURL              string
	QueueTimeOutURL        string
	Remarks                string
}

// StatusAck is the synchronous acceptance of a status query: its own ids,
// which the result's outer envelope carries.
type StatusAck struct {
	OriginatorConversationID string
	ConversationID           string
}

// TransactionStatus sends a status query; the answer arrives at ResultURL.
// Queries are safe to repeat: every error means "ask again later" except a
// non-retryable *APIError (a request or configuration defect).
func (c *Client) TransactionStatus(ctx context.Context, in Initiator, r StatusRequest) (StatusAck, error) {
	if in.Name == "" || in.SecurityCredential == "" {
		return StatusAck{}, fmt.Errorf("transaction status: initiator name and security credential are required: %w", ErrNotSent)
	}
	if r.OriginalConversationID == "" && r.TransactionID == "" {
		return StatusAck{}, errors.New("transaction status: OriginalConversationID or TransactionID is required")
	}
	body := map[string]any{
		"Initiator":          in.Name,
		"SecurityCredential": in.SecurityCredential,
		"CommandID":          "TransactionStatusQuery",
		"PartyA":             c.partyA(in),
		"IdentifierType":     "4",
		"ResultURL":          r.ResultURL,
		"QueueTimeOutURL":    r.QueueTimeOutURL,
		"Remarks":            Remarks(r.Remarks),
		"Occasion":           "",
	}
	if r.TransactionID != "" {
		body["TransactionID"] = r.TransactionID
	}
	if r.OriginalConversationID != "" {
		body["OriginalConversationID"] = r.OriginalConversationID
	}
	var out initiatorAck
	subject := r.OriginalConversationID + r.TransactionID
	if err := c.call(ctx, PathTxStatus, body, &out); err != nil {
		return StatusAck{}, fmt.Errorf("transaction status of %s: %w", subject, err)
	}
	if err := refused(out.ResponseCode, out.ResponseDescription); err != nil {
		return StatusAck{}, fmt.Errorf("transaction status of %s: %w", subject, err)
	}
	return StatusAck{OriginatorConversationID: string(out.OriginatorConversationID), ConversationID: string(out.ConversationID)}, nil
}

// RegisterC2BURLs registers the C2B validation and confirmation URLs of the
// client's ShortCode (Register URL API). responseType is what M-Pesa does
// when validation does not answer in time: "Completed" or "Cancelled".
func (c *Client) RegisterC2BURLs(ctx context.Context, responseType, confirmationURL, validationURL string) error {
	if responseType != "Completed" && responseType != "Cancelled" {
		return fmt.Errorf("register c2b urls: response type %q: want Completed or Cancelled", responseType)
	}
	var out struct {
		ResponseCode        FlexString `json:"ResponseCode"`
		ResponseDescription FlexString `json:"ResponseDescription"`
	}
	if err := c.call(ctx, PathRegisterC2B, map[string]any{
		"ShortCode": c.cfg.ShortCode, "ResponseType": responseType,
		"ConfirmationURL": confirmationURL, "ValidationURL": validationURL,
	}, &out); err != nil {
		return fmt.Errorf("register c2b urls: %w", err)
	}
	if err := refused(out.ResponseCode, out.ResponseDescription); err != nil {
		return fmt.Errorf("register c2b urls: %w", err)
	}
	return nil
}

func (c *Client) partyA(in Initiator) string {
	if in.PartyA != "" {
		return in.PartyA
	}
	return c.cfg.ShortCode
}

// Remarks fits s to Daraja's 2..100 characters.
func Remarks(s string) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) < 2 {
		return "Payout"
	}
	return truncate(s, 100)
}
