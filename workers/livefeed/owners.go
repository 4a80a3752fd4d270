package livefeed

import (
	"encoding/json"
	"fmt"

	"fundigo/pkg/events"
)

// ownersFunc reads who an event belongs to and the body each of them gets.
type ownersFunc func(body []byte) (owners []string, data json.RawMessage, err error)

func paymentOwners(body []byte) ([]string, json.RawMessage, error) {
	var p events.Payment
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, nil, fmt.Errorf("decode payment event: %w", err)
	}
	return []string{p.CustomerID}, body, nil
}

// notificationOwners gives each recipient the notification without
// user_ids: a user learns nothing about who else was notified.
func notificationOwners(body []byte) ([]string, json.RawMessage, error) {
	var n events.NotificationRequested
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, nil, fmt.Errorf("decode notification event: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, nil, fmt.Errorf("decode notification event: %w", err)
	}
	delete(fields, "user_ids")
	data, err := json.Marshal(fields)
	if err != nil {
		return nil, nil, fmt.Errorf("encode notification for users: %w", err)
	}
	seen := make(map[string]bool, len(n.UserIDs))
	owners := make([]string, 0, len(n.UserIDs))
	for _, u := range n.UserIDs {
		if !seen[u] {
			seen[u] = true
			owners = append(owners, u)
		}
	}
	return owners, data, nil
}

func reviewOwners(body []byte) ([]string, json.RawMessage, error) {
	var r events.ReviewCreated
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, nil, fmt.Errorf("decode review event: %w", err)
	}
	return []string{string(r.TechnicianID)}, body, nil
}

func ratingOwners(body []byte) ([]string, json.RawMessage, error) {
	var r events.RatingUpdated
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, nil, fmt.Errorf("decode rating event: %w", err)
	}
	return []string{r.TechnicianID}, body, nil
}
