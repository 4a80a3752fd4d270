package payment

import (
	"fundigo/pkg/events"
	"fundigo/pkg/logging"
)

// View is the payment as the REST API and the payment.* events show it:
// phone masked, empty optional columns as null (technician_id: left out).
func (p Payment) View() events.Payment {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return events.Payment{
		ID: p.ID, JobID: p.JobID, CustomerID: p.CustomerID, TechnicianID: p.TechnicianID,
		Phone: logging.MaskMSISDN(p.Phone), Amount: p.Amount, Status: string(p.Status),
		FailureReason: opt(p.FailureReason), ResultCode: opt(p.ResultCode), ResultDesc: opt(p.ResultDesc),
		MpesaReceipt: opt(p.MpesaReceipt), MerchantRequestID: opt(p.MerchantRequestID),
		CheckoutRequestID: opt(p.CheckoutRequestID), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
		Method: string(p.Method), AccountReference: opt(p.AccountReference),
	}
}
