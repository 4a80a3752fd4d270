package mpesa

import (
	"context"
	"errors"
	"fmt"
)

// Limits Daraja applies to STK Push text fields (characters).
const (
	MaxAccountReference = 12
	MaxTransactionDesc  = 13
)

// PushRequest is one STK Push: prompt PhoneNumber to pay Amount whole KES.
type PushRequest struct {
	Amount      int64  // whole KES, 1..250000
	PhoneNumber string // 254XXXXXXXXX; also used as PartyA
	// AccountReference (shown in the prompt) and TransactionDesc are cut to
	// Daraja's limits of 12 and 13 characters.
	AccountReference string
	TransactionDesc  string
}

// PushResult is Daraja's synchronous acknowledgement. It is not a payment:
// the outcome arrives by callback (or STK Push Query).
type PushResult struct {
	MerchantRequestID   string
	CheckoutRequestID   string
	ResponseDescription string
	CustomerMessage     string
}

// STKPush asks Daraja to prompt the customer. Errors:
//   - wrapping ErrNotSent: nothing reached Daraja; retrying is safe;
//   - *APIError: Daraja refused it (Retryable tells whether later may work);
//   - wrapping ErrAmbiguous: the customer may have been prompted; do NOT send
//     again, settle the outcome by callback or STK Push Query.
func (c *Client) STKPush(ctx context.Context, r PushRequest) (PushResult, error) {
	body := c.stkBody(map[string]any{
		"TransactionType":  c.cfg.TransactionType,
		"Amount":           r.Amount,
		"PartyA":           r.PhoneNumber,
		"PartyB":           c.cfg.PartyB,
		"PhoneNumber":      r.PhoneNumber,
		"CallBackURL":      c.cfg.CallbackURL,
		"AccountReference": truncate(r.AccountReference, MaxAccountReference),
		"TransactionDesc":  truncate(r.TransactionDesc, MaxTransactionDesc),
	})
	var out struct {
		MerchantRequestID   FlexString `json:"MerchantRequestID"`
		CheckoutRequestID   FlexString `json:"CheckoutRequestID"`
		ResponseCode        FlexString `json:"ResponseCode"`
		ResponseDescription FlexString `json:"ResponseDescription"`
		CustomerMessage     FlexString `json:"CustomerMessage"`
	}
	if err := c.call(ctx, "/mpesa/stkpush/v1/processrequest", body, &out); err != nil {
		return PushResult{}, fmt.Errorf("stk push: %w", err)
	}
	if err := refused(out.ResponseCode, out.ResponseDescription); err != nil {
		return PushResult{}, fmt.Errorf("stk push: %w", err)
	}
	if out.CheckoutRequestID == "" {
		return PushResult{}, fmt.Errorf("stk push: accepted without CheckoutRequestID: %w", ErrAmbiguous)
	}
	return PushResult{
		MerchantRequestID:   string(out.MerchantRequestID),
		CheckoutRequestID:   string(out.CheckoutRequestID),
		ResponseDescription: string(out.ResponseDescription),
		CustomerMessage:     string(out.CustomerMessage),
	}, nil
}

// QueryResult is the answer of STK Push Query. When Pending is true the
// customer has not answered yet (Daraja's "The transaction is being
// processed" error, or ResultCode 4999); otherwise ResultCode is final. A
// success carries no receipt, amount or phone.
type QueryResult struct {
	Pending    bool
	ResultCode string
	ResultDesc string
}

// STKQuery asks Daraja for the outcome of a push. Queries are safe to repeat,
// so every error just means "ask again later" except a non-retryable
// *APIError, which is a request or configuration defect.
func (c *Client) STKQuery(ctx context.Context, checkoutRequestID string) (QueryResult, error) {
	body := c.stkBody(map[string]any{"CheckoutRequestID": checkoutRequestID})
	var out struct {
		ResponseCode        FlexString `json:"ResponseCode"`
		ResponseDescription FlexString `json:"ResponseDescription"`
		ResultCode          FlexString `json:"ResultCode"`
		ResultDesc          FlexString `json:"ResultDesc"`
	}
	err := c.call(ctx, "/mpesa/stkpushquery/v1/query", body, &out)
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.BeingProcessed():
		return QueryResult{Pending: true, ResultDesc: apiErr.Message}, nil
	case err != nil:
		return QueryResult{}, fmt.Errorf("stk query %s: %w", checkoutRequestID, err)
	}
	if err := refused(out.ResponseCode, out.ResponseDescription); err != nil {
		return QueryResult{}, fmt.Errorf("stk query %s: %w", checkoutRequestID, err)
	}
	code := NormalizeResultCode(string(out.ResultCode))
	if code == "" || code == ResultStillProcessing {
		return QueryResult{Pending: true, ResultCode: code, ResultDesc: string(out.ResultDesc)}, nil
	}
	return QueryResult{ResultCode: code, ResultDesc: string(out.ResultDesc)}, nil
}

// stkBody adds the fields every STK request carries (BusinessShortCode and
// the Password of a fresh Kenya-time Timestamp) to fields.
func (c *Client) stkBody(fields map[string]any) map[string]any {
	ts := FormatTimestamp(c.cfg.NowFunc())
	fields["BusinessShortCode"] = c.cfg.ShortCode
	fields["Password"] = Password(c.cfg.ShortCode, c.cfg.Passkey, ts)
	fields["Timestamp"] = ts
	return fields
}

// refused is the *APIError of a 200 answer whose ResponseCode is not "0"
// (Daraja declined the request), nil when it was accepted.
func refused(responseCode, description FlexString) error {
	if code := NormalizeResultCode(string(responseCode)); code != "0" {
		return &APIError{HTTPStatus: 200, Code: code, Message: string(description)}
	}
	return nil
}

// truncate cuts s to at most n characters (runes).
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
