package events

// Notifications routing keys on the events exchange.
const (
	// RoutingKeyNotificationRequested carries a NotificationRequested. The API
	// publishes it (through the outbox, in the transaction that stores the
	// notification) for POST /v1/notifications; other systems may publish it
	// too. The notifications worker fans it out to devices, once per
	// SourceKey however often it is delivered. pkg/notification.Validate
	// states which payloads are accepted. The API's own events carry the
	// header x-fundigo-notification-stored (pkg/notification.HeaderStored):
	// their notification is stored already, so the worker acks them unread.
	// Other publishers must not set it.
	RoutingKeyNotificationRequested = "notification.requested"
)

// Notification priorities: high bypasses quiet hours.
const (
	NotificationPriorityNormal = "normal"
	NotificationPriorityHigh   = "high"
)

// NotificationRequested asks for a notification to users: either a Template
// (rendered per device locale, en or sw, with Params) or literal Title/Body.
// It is self-contained, so a publisher needs no access to the database.
type NotificationRequested struct {
	// ID is the notification id (a UUID) reported by GET /v1/notifications/{id}.
	ID string `json:"id"`
	// SourceKey deduplicates: one notification per key, e.g.
	// "api:<client>:<Idempotency-Key>". Empty means "notification:<ID>".
	SourceKey  string         `json:"source_key,omitempty"`
	UserIDs    []string       `json:"user_ids"`
	Template   string         `json:"template,omitempty"`
	Params     map[string]any `json:"params,omitempty"`
	Title      string         `json:"title,omitempty"`
	Body       string         `json:"body,omitempty"`
	Data       map[string]any `json:"data,omitempty"`
	Category   string         `json:"category,omitempty"`
	Priority   string         `json:"priority,omitempty"`
	CollapseID string         `json:"collapse_id,omitempty"`
}

// RoutingKey is notification.requested.
func (NotificationRequested) RoutingKey() string { return RoutingKeyNotificationRequested }

// MessageID is "notification.requested:<id>": the same notification is
// announced once however often it is written.
func (n NotificationRequested) MessageID() string {
	return RoutingKeyNotificationRequested + ":" + n.ID
}
