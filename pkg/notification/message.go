package notification

import (
	"encoding/json"
	"fmt"
	"maps"

	"fundigo/pkg/expo"
	"fundigo/pkg/fcm"
)

// content is a notification rendered for one locale.
type content struct {
	title, body string
	data        map[string]any
}

// renderer renders a notification once per locale.
type renderer struct {
	t     *Templates
	n     Notification
	cache map[string]content
	// payloadErr is each locale's Expo payload check: the payload is the
	// same for every device of the notification (only the token differs),
	// so it is encoded and measured once per locale, not per message.
	payloadErr map[string]error
}

// checkExpo is m.Validate for a message of this notification in locale,
// measuring the payload only for the locale's first message.
func (r *renderer) checkExpo(locale string, m expo.Message) error {
	if !expo.IsPushToken(m.To) {
		return expo.ErrInvalidToken
	}
	err, ok := r.payloadErr[locale]
	if !ok {
		err = m.CheckPayload()
		r.payloadErr[locale] = err
	}
	return err
}

func newRenderer(t *Templates, n Notification) *renderer {
	return &renderer{t: t, n: n, cache: map[string]content{}, payloadErr: map[string]error{}}
}

// render returns the notification's texts for locale: the template in that
// locale, or the literal title/body. data always carries notification_id
// (and the category) so the app can route a tap.
func (r *renderer) render(locale string) (content, error) {
	if c, ok := r.cache[locale]; ok {
		return c, nil
	}
	c := content{title: r.n.Title, body: r.n.Body, data: maps.Clone(r.n.Data)}
	if c.data == nil {
		c.data = map[string]any{}
	}
	c.data["notification_id"] = r.n.ID
	if r.n.Category != "" {
		c.data["category"] = r.n.Category
	}
	if r.n.Template != "" {
		title, body, err := r.t.Render(r.n.Template, locale, r.n.Params)
		if err != nil {
			return content{}, err
		}
		c.title, c.body = title, body
		c.data["template"] = r.n.Template
	}
	r.cache[locale] = c
	return c, nil
}

func expoMessage(n Notification, d Delivery, c content) expo.Message {
	m := expo.Message{
		To: d.DeviceToken, Title: c.title, Body: c.body, Data: c.data,
		Sound: "default", CollapseID: n.CollapseID,
		// "default" lets each platform pick (normal on Android, high on
		// iOS); APNs priority 5 may hold a message for a long time.
		Priority: expo.PriorityDefault,
	}
	if n.Priority == PriorityHigh {
		m.Priority = expo.PriorityHigh
	}
	return m
}

func fcmMessage(n Notification, d Delivery, c content) fcm.Message {
	data := make(map[string]string, len(c.data))
	for k, v := range c.data {
		// FCM data values are strings: other JSON values travel encoded.
		if s, ok := v.(string); ok {
			data[k] = s
		} else if b, err := json.Marshal(v); err == nil {
			data[k] = string(b)
		} else {
			data[k] = fmt.Sprint(v)
		}
	}
	return fcm.Message{
		Token: d.DeviceToken, Title: c.title, Body: c.body, Data: data,
		HighPriority: n.Priority == PriorityHigh, CollapseKey: n.CollapseID,
	}
}
