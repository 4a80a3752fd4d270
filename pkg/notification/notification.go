package notification

import (
	"time"

	"fundigo/pkg/events"
)

// Request asks for a notification to users: a template (rendered per device
// locale with params) or a literal title/body. It is the
// notification.requested payload itself, so the API body, the event and the
// stored row share one shape; Validate checks it for every entry point.
type Request = events.NotificationRequested

// Priorities: high bypasses quiet hours.
const (
	PriorityNormal = events.NotificationPriorityNormal
	PriorityHigh   = events.NotificationPriorityHigh
)

// Notification statuses: queued → sending → done.
const (
	StatusQueued  = "queued"
	StatusSending = "sending"
	StatusDone    = "done"
)

// Notification is a stored Request and where it stands.
type Notification struct {
	Request
	Status      string
	CreatedAt   time.Time
	FannedOutAt *time.Time
	DoneAt      *time.Time
}

// Counts add up: Devices = Queued + Deferred + AwaitingReceipt + Delivered +
// Failed + InvalidTokens + Muted. Sent counts the deliveries a provider
// accepted (an ok ticket or an FCM 200), whatever their receipt said later.
type Counts struct {
	Devices         int `json:"devices"`
	Sent            int `json:"sent"`
	Failed          int `json:"failed"`
	InvalidTokens   int `json:"invalid_tokens"`
	AwaitingReceipt int `json:"awaiting_receipt"`
	Delivered       int `json:"delivered"`
	Deferred        int `json:"deferred"`
	Queued          int `json:"queued"`
	Muted           int `json:"muted"`
}

// Delivery statuses; see migrations/00020_notifications.sql for the
// lifecycle. Only pending/deferred rows may be claimed and only claimed
// (sending) rows settled, so a row is handed to a provider at most once.
const (
	DeliveryPending   = "pending"
	DeliveryDeferred  = "deferred"
	DeliverySending   = "sending"
	DeliverySent      = "sent"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	DeliveryInvalid   = "invalid"
	DeliveryMuted     = "muted"
)

// Delivery is one notification to one device.
type Delivery struct {
	ID             int64
	NotificationID string
	UserID         string
	DeviceToken    string
	Platform       string
	Locale         string
	Status         string
	NotBefore      *time.Time
	Attempts       int
}

// Outcome settles one claimed delivery.
type Outcome struct {
	ID       int64
	Status   string // sent, delivered, failed or invalid
	Accepted bool   // the provider took the message
	TicketID string // Expo receipt id of an ok ticket
	Error    string // error code for failed/invalid
}

// ReceiptCheck is a delivery whose Expo receipt is due.
type ReceiptCheck struct {
	ID          int64
	TicketID    string
	DeviceToken string
	SentAt      time.Time
}
