package mpesasim

// Phone numbers with a scripted outcome. Any other valid number pays.
const (
	PhoneSuccess           = "254708374149"
	PhoneCancelled         = "254700001032"
	PhoneTimeout           = "254700001037"
	PhoneInsufficientFunds = "254700000001"
	PhoneWrongPIN          = "254700002001"
	PhoneExpired           = "254700001019"
	// PhoneQueryOnly is accepted, never called back, and reported paid by
	// STK Query once the callback delay has passed (exercises reconciliation).
	PhoneQueryOnly = "254700009999"
	// PhoneSilent is accepted and nothing more: no callback, and STK Query
	// answers "being processed" forever, so a test can post its own callback.
	PhoneSilent = "254700009998"
)

// Behaviour is what the simulated customer does with a prompt.
type Behaviour struct {
	ResultCode string
	ResultDesc string
	Callback   bool // send a callback
	QueryFinal bool // STK Query reports ResultCode once the delay passed
}

// behaviours maps scripted phone numbers to outcomes; see BehaviourFor.
var behaviours = map[string]Behaviour{
	PhoneCancelled:         {ResultCode: "1032", ResultDesc: "Request cancelled by user", Callback: true, QueryFinal: true},
	PhoneTimeout:           {ResultCode: "1037", ResultDesc: "DS timeout user cannot be reached", Callback: true, QueryFinal: true},
	PhoneInsufficientFunds: {ResultCode: "1", ResultDesc: "The balance is insufficient for the transaction.", Callback: true, QueryFinal: true},
	PhoneWrongPIN:          {ResultCode: "2001", ResultDesc: "The initiator information is invalid.", Callback: true, QueryFinal: true},
	PhoneExpired:           {ResultCode: "1019", ResultDesc: "Transaction has expired.", Callback: true, QueryFinal: true},
	PhoneQueryOnly:         {ResultCode: "0", ResultDesc: "The service request is processed successfully.", QueryFinal: true},
	PhoneSilent:            {},
}

// BehaviourFor returns the scripted behaviour of phone; unlisted numbers
// (PhoneSuccess among them) pay after the callback delay.
func BehaviourFor(phone string) Behaviour {
	if b, ok := behaviours[phone]; ok {
		return b
	}
	return Behaviour{ResultCode: "0", ResultDesc: "The service request is processed successfully.", Callback: true, QueryFinal: true}
}
