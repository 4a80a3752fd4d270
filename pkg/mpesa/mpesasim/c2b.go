package mpesasim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"fundigo/pkg/mpesa"
)

// c2bURLs are the registered C2B URLs. Guarded by Sim.mu.
type c2bURLs struct{ validation, confirmation string }

// handleRegisterC2B is POST /mpesa/c2b/v{1,2}/registerurl.
func (s *Sim) handleRegisterC2B(w http.ResponseWriter, r *http.Request) {
	body, ok := s.decodeAuthed(w, r)
	if !ok {
		return
	}
	if str(body, "ShortCode") != s.cfg.ShortCode {
		badRequest(w, "ShortCode")
		return
	}
	if rt := str(body, "ResponseType"); rt != "Completed" && rt != "Cancelled" {
		badRequest(w, "ResponseType")
		return
	}
	v, c := str(body, "ValidationURL"), str(body, "ConfirmationURL")
	if !validCallbackURL(v) {
		badRequest(w, "ValidationURL")
		return
	}
	if !validCallbackURL(c) {
		badRequest(w, "ConfirmationURL")
		return
	}
	s.mu.Lock()
	s.c2b = c2bURLs{validation: v, confirmation: c}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"OriginatorCoversationID": newRequestID(), "ResponseCode": "0", "ResponseDescription": "Success"})
}

// handleSimulateC2B is POST /mpesa/c2b/v1/simulate (sandbox only at
// Safaricom): a customer pays Amount to BillRefNumber. Validation, then (if
// accepted) confirmation are sent in the background.
func (s *Sim) handleSimulateC2B(w http.ResponseWriter, r *http.Request) {
	body, ok := s.decodeAuthed(w, r)
	if !ok {
		return
	}
	amount, err := strconv.ParseInt(str(body, "Amount"), 10, 64)
	if err != nil || amount < 1 || amount > 250000 {
		badRequest(w, "Amount")
		return
	}
	ref, msisdn := str(body, "BillRefNumber"), str(body, "Msisdn")
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_, _ = s.SimulateC2B(s.ctx, C2BPayment{BillRefNumber: ref, Amount: amount, MSISDN: msisdn})
	}()
	writeJSON(w, http.StatusOK, map[string]string{"OriginatorCoversationID": newRequestID(), "ResponseCode": "0",
		"ResponseDescription": "Accept the service request successfully."})
}

// C2BPayment is a simulated Pay Bill payment.
type C2BPayment struct {
	BillRefNumber string
	Amount        int64
	MSISDN        string // sent masked, as Daraja v2 does
	FirstName     string
	// TransID is the receipt to use ("" = a new one): set it to an STK
	// receipt to simulate the same payment reported on both channels.
	TransID string
	// SkipValidation sends only the confirmation.
	SkipValidation bool
}

// C2BOutcome is what the simulated payment did.
type C2BOutcome struct {
	TransID          string
	ValidationCode   string // "" when validation was skipped
	Confirmed        bool
	ConfirmationCode int // HTTP status of the confirmation
}

// SimulateC2B sends validation, then confirmation if validation accepted,
// to the registered URLs, and reports what happened.
func (s *Sim) SimulateC2B(ctx context.Context, p C2BPayment) (C2BOutcome, error) {
	s.mu.Lock()
	urls := s.c2b
	s.seq++
	if p.TransID == "" {
		p.TransID = receipt(s.seq)
	}
	now := s.cfg.NowFunc()
	s.mu.Unlock()
	if urls.confirmation == "" {
		return C2BOutcome{}, errors.New("mpesasim: no c2b urls registered")
	}
	msisdn := p.MSISDN
	if len(msisdn) == 12 {
		msisdn = msisdn[:4] + " ***** " + msisdn[9:]
	}
	doc := map[string]string{
		"TransactionType": "Pay Bill", "TransID": p.TransID, "TransTime": mpesa.FormatTimestamp(now),
		"TransAmount": strconv.FormatInt(p.Amount, 10) + ".00", "BusinessShortCode": s.cfg.ShortCode,
		"BillRefNumber": p.BillRefNumber, "InvoiceNumber": "", "OrgAccountBalance": "", "ThirdPartyTransID": "",
		"MSISDN": msisdn, "FirstName": p.FirstName, "MiddleName": "", "LastName": "",
	}
	out := C2BOutcome{TransID: p.TransID}
	if !p.SkipValidation && urls.validation != "" {
		b, _ := json.Marshal(doc)
		status, answer, err := s.exchange(ctx, urls.validation, b)
		if err != nil || status != http.StatusOK {
			return out, fmt.Errorf("mpesasim: c2b validation: status %d: %w", status, err)
		}
		var v struct {
			ResultCode mpesa.FlexString `json:"ResultCode"`
		}
		_ = json.Unmarshal(answer, &v)
		out.ValidationCode = string(v.ResultCode)
		if out.ValidationCode != "0" {
			return out, nil
		}
	}
	doc["OrgAccountBalance"] = "49197.00"
	b, _ := json.Marshal(doc)
	status, _, err := s.exchange(ctx, urls.confirmation, b)
	out.ConfirmationCode = status
	out.Confirmed = err == nil && status == http.StatusOK
	return out, err
}

// exchange POSTs body and returns the status and answer.
func (s *Sim) exchange(ctx context.Context, url string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, mpesa.StripURL(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, answer, err
}
