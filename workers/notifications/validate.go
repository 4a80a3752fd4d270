package notifications

import (
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"fundigo/pkg/events"
)

// ValidateRequest checks a notification request from an event (the API runs
// the same rules field by field for its 422s).
func ValidateRequest(ev events.NotificationRequested) error {
	var errs []error
	if _, err := uuid.Parse(ev.ID); err != nil {
		errs = append(errs, errors.New("id must be a UUID"))
	}
	if len(ev.UserIDs) < 1 || len(ev.UserIDs) > events.MaxNotificationUsers {
		errs = append(errs, fmt.Errorf("user_ids must hold 1..%d ids", events.MaxNotificationUsers))
	}
	if slices.Contains(ev.UserIDs, "") {
		errs = append(errs, errors.New("user_ids must not contain empty ids"))
	}
	switch {
	case ev.Template != "":
		required, ok := events.NotificationTemplates[ev.Template]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown template %q", ev.Template))
		}
		for _, p := range required {
			if _, ok := ev.Params[p]; !ok {
				errs = append(errs, fmt.Errorf("template %s needs param %q", ev.Template, p))
			}
		}
	case ev.Title == "" && ev.Body == "":
		errs = append(errs, errors.New("a template or a title/body is required"))
	}
	switch ev.Priority {
	case "", events.NotificationPriorityNormal, events.NotificationPriorityHigh:
	default:
		errs = append(errs, fmt.Errorf("priority %q: want normal or high", ev.Priority))
	}
	if len(ev.Category) > events.MaxCategoryLen || len(ev.CollapseID) > events.MaxCollapseIDLen {
		errs = append(errs, errors.New("category or collapse_id too long"))
	}
	return errors.Join(errs...)
}
