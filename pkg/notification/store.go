package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"fundigo/pkg/store"
)

// DB is what the notification queries need; *pgxpool.Pool and pgx.Tx both
// satisfy it, so the same queries run alone or inside a caller's tx.
type DB = store.DB

// Store holds every query of the notifications domain: the notifications,
// notification_deliveries, devices and notification_preferences tables (see
// migrations/00020_notifications.sql). It takes no decisions; the commands
// and the Pipeline do.
type Store struct{ db DB }

// NewStore returns the queries over db (a pool or a tx).
func NewStore(db DB) Store { return Store{db: db} }

// ---- notifications ----

const notificationColumns = `id::text, source_key, user_ids, template, params, title, body, data,
	category, priority, collapse_id, status, created_at, fanned_out_at, done_at`

// CreateNotification stores n (ID and SourceKey set by the caller) unless a
// notification with the same SourceKey exists; then that one is returned
// with created false. This is what makes a replayed request or event one
// notification.
func (s Store) CreateNotification(ctx context.Context, n Notification) (Notification, bool, error) {
	params, data, err := encodeMaps(n.Params, n.Data)
	if err != nil {
		return Notification{}, false, err
	}
	// One round trip for both cases: the insert, or (a replay, or the
	// notification.requested of a notification Create stored) the row that
	// is there. A row committed by a racing insert after this statement's
	// snapshot is found by the second query.
	var created bool
	out, err := scanNotification(s.db.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO notifications (id, source_key, user_ids, template, params, title, body, data,
				category, priority, collapse_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (source_key) DO NOTHING
			RETURNING `+notificationColumns+`, true AS created)
		SELECT * FROM ins
		UNION ALL
		SELECT `+notificationColumns+`, false FROM notifications
		WHERE source_key = $2 AND NOT EXISTS (SELECT 1 FROM ins)`,
		n.ID, n.SourceKey, n.UserIDs, n.Template, params, n.Title, n.Body, data,
		n.Category, n.Priority, n.CollapseID), &created)
	if err == nil {
		return out, created, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Notification{}, false, fmt.Errorf("create notification %s: %w", n.ID, err)
	}
	out, err = scanNotification(s.db.QueryRow(ctx,
		`SELECT `+notificationColumns+` FROM notifications WHERE source_key = $1`, n.SourceKey))
	if err != nil {
		return Notification{}, false, fmt.Errorf("load notification by source key: %w", err)
	}
	return out, false, nil
}

// InsertNotifications stores the requests (IDs and SourceKeys set, already
// validated) with one statement; a request whose source key is stored
// already is skipped. Returns the ids of those inserted.
func (s Store) InsertNotifications(ctx context.Context, rs []Request) ([]string, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	n := len(rs)
	ids, keys, users, templates, params, titles := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	bodies, data, categories, priorities, collapse := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n)
	for i, r := range rs {
		p, d, err := encodeMaps(r.Params, r.Data)
		if err != nil {
			return nil, err
		}
		// A row's user ids travel as one JSON array: unnest cannot take an
		// array of arrays of different lengths.
		u, err := json.Marshal(r.UserIDs)
		if err != nil {
			return nil, fmt.Errorf("encode user ids: %w", err)
		}
		ids[i], keys[i], users[i], templates[i], params[i], titles[i] = r.ID, r.SourceKey, string(u), r.Template, string(p), r.Title
		bodies[i], data[i], categories[i], priorities[i], collapse[i] = r.Body, string(d), r.Category, r.Priority, r.CollapseID
	}
	rows, err := s.db.Query(ctx, `
		INSERT INTO notifications (id, source_key, user_ids, template, params, title, body, data,
			category, priority, collapse_id)
		SELECT r.id, r.sk,
			ARRAY(SELECT e.v FROM jsonb_array_elements_text(r.u::jsonb) WITH ORDINALITY AS e(v, i) ORDER BY e.i),
			r.tpl, r.pa::jsonb, r.ti, r.bo, r.da::jsonb, r.ca, r.pr, r.co
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::text[]) AS r(id, sk, u, tpl, pa, ti, bo, da, ca, pr, co)
		ON CONFLICT (source_key) DO NOTHING
		RETURNING id::text`,
		ids, keys, users, templates, params, titles, bodies, data, categories, priorities, collapse)
	if err != nil {
		return nil, fmt.Errorf("insert %d notifications: %w", n, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("insert %d notifications: %w", n, err)
	}
	return out, nil
}

// Notification returns the notification with id, or store.ErrNotFound.
func (s Store) Notification(ctx context.Context, id string) (Notification, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Notification{}, store.ErrNotFound
	}
	out, err := scanNotification(s.db.QueryRow(ctx,
		`SELECT `+notificationColumns+` FROM notifications WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Notification{}, store.ErrNotFound
	}
	if err != nil {
		return Notification{}, fmt.Errorf("get notification %s: %w", id, err)
	}
	return out, nil
}

// MarkFannedOut moves a queued notification to sending once its deliveries
// exist. Idempotent: store.ErrStaleTransition when it was not queued.
func (s Store) MarkFannedOut(ctx context.Context, id string, now time.Time) error {
	tag, err := s.db.Exec(ctx, `
		UPDATE notifications SET status = 'sending', fanned_out_at = $2
		WHERE id = $1 AND status = 'queued'`, id, now)
	if err != nil {
		return fmt.Errorf("mark notification %s fanned out: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrStaleTransition
	}
	return nil
}

// LockQueued locks up to limit queued notifications (not yet fanned out),
// oldest first, for the caller's transaction; notifications locked by
// another transaction are skipped.
func (s Store) LockQueued(ctx context.Context, limit int) ([]Notification, error) {
	rows, err := s.db.Query(ctx, `
		SELECT `+notificationColumns+` FROM notifications WHERE status = 'queued'
		ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
	if err != nil {
		return nil, fmt.Errorf("lock queued notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("lock queued notifications: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock queued notifications: %w", err)
	}
	return out, nil
}

// MarkAllFannedOut is MarkFannedOut for many notifications in one
// statement; those no longer queued are left alone. The ones in done were
// fanned out with nothing to send (no device, every device muted): they are
// done at once, in the same statement, rather than sending and then done.
func (s Store) MarkAllFannedOut(ctx context.Context, ids, done []string, now time.Time) error {
	_, err := s.db.Exec(ctx, `
		UPDATE notifications SET fanned_out_at = $2::timestamptz,
			status = CASE WHEN id = ANY($3::uuid[]) THEN 'done' ELSE 'sending' END,
			done_at = CASE WHEN id = ANY($3::uuid[]) THEN $2::timestamptz END
		WHERE id = ANY($1::uuid[]) AND status = 'queued'`, ids, now, done)
	if err != nil {
		return fmt.Errorf("mark %d notifications fanned out: %w", len(ids), err)
	}
	return nil
}

// CompleteIfSettled moves a sending notification to done when none of its
// deliveries is pending, deferred or being sent. Reports whether it did. It
// is CompleteSettled for one id (one statement, one plan).
func (s Store) CompleteIfSettled(ctx context.Context, id string, now time.Time) (bool, error) {
	done, err := s.CompleteSettled(ctx, []string{id}, now)
	if err != nil {
		return false, fmt.Errorf("complete notification %s: %w", id, err)
	}
	return done == 1, nil
}

// nothingLeftToSend holds for the notification n (the alias) when none of
// its deliveries is pending, deferred or being sent: it may be done. OFFSET
// 0 keeps it a subplan looked up by each notification's id: turned into an
// anti join, a plan made while notification_deliveries looked empty read the
// whole deliveries index for every notification. Used by CompleteForgotten;
// migration 00066 holds the same condition for CompleteSettled.
const nothingLeftToSend = `NOT EXISTS (
	SELECT 1 FROM notification_deliveries d
	WHERE d.notification_id = n.id AND d.status IN ('pending', 'deferred', 'sending') OFFSET 0)`

// Counts tallies the deliveries of notification id.
func (s Store) Counts(ctx context.Context, id string) (Counts, error) {
	var c Counts
	if _, err := uuid.Parse(id); err != nil {
		return c, store.ErrNotFound
	}
	err := s.db.QueryRow(ctx, `
		SELECT count(*),
			count(*) FILTER (WHERE accepted),
			count(*) FILTER (WHERE status = 'failed'),
			count(*) FILTER (WHERE status = 'invalid'),
			count(*) FILTER (WHERE status = 'sent'),
			count(*) FILTER (WHERE status = 'delivered'),
			count(*) FILTER (WHERE status = 'deferred'),
			count(*) FILTER (WHERE status IN ('pending', 'sending')),
			count(*) FILTER (WHERE status = 'muted')
		FROM notification_deliveries WHERE notification_id = $1`, id).
		Scan(&c.Devices, &c.Sent, &c.Failed, &c.InvalidTokens, &c.AwaitingReceipt,
			&c.Delivered, &c.Deferred, &c.Queued, &c.Muted)
	if err != nil {
		return Counts{}, fmt.Errorf("count deliveries of notification %s: %w", id, err)
	}
	return c, nil
}

func encodeMaps(params, data map[string]any) ([]byte, []byte, error) {
	if params == nil {
		params = map[string]any{}
	}
	if data == nil {
		data = map[string]any{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		return nil, nil, fmt.Errorf("encode params: %w", err)
	}
	d, err := json.Marshal(data)
	if err != nil {
		return nil, nil, fmt.Errorf("encode data: %w", err)
	}
	return p, d, nil
}

// scanNotification scans notificationColumns, then extra (columns a query
// adds after them).
func scanNotification(row pgx.Row, extra ...any) (Notification, error) {
	var (
		n            Notification
		params, data []byte
	)
	err := row.Scan(append([]any{&n.ID, &n.SourceKey, &n.UserIDs, &n.Template, &params, &n.Title, &n.Body, &data,
		&n.Category, &n.Priority, &n.CollapseID, &n.Status, &n.CreatedAt, &n.FannedOutAt, &n.DoneAt}, extra...)...)
	if err != nil {
		return Notification{}, err
	}
	if err := json.Unmarshal(params, &n.Params); err != nil {
		return Notification{}, fmt.Errorf("decode params: %w", err)
	}
	if err := json.Unmarshal(data, &n.Data); err != nil {
		return Notification{}, fmt.Errorf("decode data: %w", err)
	}
	return n, nil
}

// ---- devices ----

const deviceColumns = `token, user_id, platform, locale, active, created_at, updated_at`

// UpsertDevice registers d.Token for d.UserID. It is idempotent:
// registering a known token updates it in place (reactivating it), so
// created is true only the first time. A token active for another user is
// moved to d.UserID only when mayMove; otherwise nothing changes and the
// error is ErrDeviceTaken. One statement, so two registrations racing for
// one token cannot both win.
func (s Store) UpsertDevice(ctx context.Context, d Device, mayMove bool) (out Device, created bool, err error) {
	row := s.db.QueryRow(ctx, `
		INSERT INTO devices (token, user_id, platform, locale)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (token) DO UPDATE SET
			user_id = EXCLUDED.user_id, platform = EXCLUDED.platform, locale = EXCLUDED.locale,
			active = true, deactivated_reason = NULL, updated_at = now()
		WHERE $5 OR devices.user_id = EXCLUDED.user_id OR NOT devices.active
		RETURNING `+deviceColumns+`, (xmax = 0)`,
		d.Token, d.UserID, d.Platform, d.Locale, mayMove)
	err = row.Scan(&out.Token, &out.UserID, &out.Platform, &out.Locale, &out.Active,
		&out.CreatedAt, &out.UpdatedAt, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return Device{}, false, ErrDeviceTaken
	}
	if err != nil {
		return Device{}, false, fmt.Errorf("upsert device for user %s: %w", d.UserID, err)
	}
	return out, created, nil
}

// Device returns the device with token, or store.ErrNotFound.
func (s Store) Device(ctx context.Context, token string) (Device, error) {
	var d Device
	err := s.db.QueryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE token = $1`, token).
		Scan(&d.Token, &d.UserID, &d.Platform, &d.Locale, &d.Active, &d.CreatedAt, &d.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Device{}, store.ErrNotFound
	}
	if err != nil {
		return Device{}, fmt.Errorf("get device: %w", err)
	}
	return d, nil
}

// DeleteDevice removes token. userID, when not empty, restricts the delete
// to that user's device. store.ErrNotFound when nothing matched.
func (s Store) DeleteDevice(ctx context.Context, token, userID string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM devices WHERE token = $1 AND ($2 = '' OR user_id = $2)`, token, userID)
	if err != nil {
		return fmt.Errorf("delete device: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeactivateDevices marks tokens as no longer deliverable
// (DeviceNotRegistered, UNREGISTERED) and returns how many were active.
// Idempotent. A token registered again afterwards is reactivated by
// UpsertDevice.
func (s Store) DeactivateDevices(ctx context.Context, tokens []string, reason string) (int64, error) {
	if len(tokens) == 0 {
		return 0, nil
	}
	tag, err := s.db.Exec(ctx, `
		UPDATE devices SET active = false, deactivated_reason = $2, updated_at = now()
		WHERE token = ANY($1) AND active`, tokens, reason)
	if err != nil {
		return 0, fmt.Errorf("deactivate %d devices: %w", len(tokens), err)
	}
	return tag.RowsAffected(), nil
}

// ActiveDevices returns the active devices of userIDs, ordered by user and
// token.
func (s Store) ActiveDevices(ctx context.Context, userIDs []string) ([]Device, error) {
	rows, err := s.db.Query(ctx, `
		SELECT `+deviceColumns+` FROM devices
		WHERE user_id = ANY($1) AND active ORDER BY user_id, token`, userIDs)
	if err != nil {
		return nil, fmt.Errorf("list devices of %d users: %w", len(userIDs), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Device, error) {
		var d Device
		err := r.Scan(&d.Token, &d.UserID, &d.Platform, &d.Locale, &d.Active, &d.CreatedAt, &d.UpdatedAt)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list devices of %d users: %w", len(userIDs), err)
	}
	return out, nil
}

// ---- preferences ----

const prefColumns = `user_id, muted_categories, quiet_start, quiet_end, quiet_tz, updated_at`

// PutPreferences replaces the user's preferences (last write wins).
func (s Store) PutPreferences(ctx context.Context, p Preferences) (Preferences, error) {
	var start, end, tz any
	if q := p.QuietHours; q != nil {
		start, end, tz = q.Start, q.End, q.TZ
	}
	muted := p.MutedCategories
	if muted == nil {
		muted = []string{}
	}
	row := s.db.QueryRow(ctx, `
		INSERT INTO notification_preferences (user_id, muted_categories, quiet_start, quiet_end, quiet_tz)
		VALUES ($1, $2, $3::time, $4::time, $5)
		ON CONFLICT (user_id) DO UPDATE SET
			muted_categories = EXCLUDED.muted_categories, quiet_start = EXCLUDED.quiet_start,
			quiet_end = EXCLUDED.quiet_end, quiet_tz = EXCLUDED.quiet_tz, updated_at = now()
		RETURNING `+prefColumns, p.UserID, muted, start, end, tz)
	out, err := scanPreferences(row)
	if err != nil {
		return Preferences{}, fmt.Errorf("put preferences of user %s: %w", p.UserID, err)
	}
	return out, nil
}

// Preferences returns the user's preferences, or the zero preferences for a
// user who never saved any.
func (s Store) Preferences(ctx context.Context, userID string) (Preferences, error) {
	out, err := scanPreferences(s.db.QueryRow(ctx,
		`SELECT `+prefColumns+` FROM notification_preferences WHERE user_id = $1`, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Preferences{UserID: userID, MutedCategories: []string{}}, nil
	}
	if err != nil {
		return Preferences{}, fmt.Errorf("get preferences of user %s: %w", userID, err)
	}
	return out, nil
}

// PreferencesOf returns the saved preferences of userIDs by user id; users
// without saved preferences are absent.
func (s Store) PreferencesOf(ctx context.Context, userIDs []string) (map[string]Preferences, error) {
	rows, err := s.db.Query(ctx,
		`SELECT `+prefColumns+` FROM notification_preferences WHERE user_id = ANY($1)`, userIDs)
	if err != nil {
		return nil, fmt.Errorf("list preferences of %d users: %w", len(userIDs), err)
	}
	defer rows.Close()
	out := make(map[string]Preferences)
	for rows.Next() {
		p, err := scanPreferences(rows)
		if err != nil {
			return nil, fmt.Errorf("list preferences: %w", err)
		}
		out[p.UserID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list preferences: %w", err)
	}
	return out, nil
}

func scanPreferences(row pgx.Row) (Preferences, error) {
	var (
		p          Preferences
		start, end pgtype.Time
		tz         *string
		updated    time.Time
	)
	if err := row.Scan(&p.UserID, &p.MutedCategories, &start, &end, &tz, &updated); err != nil {
		return Preferences{}, err
	}
	p.UpdatedAt = &updated
	if p.MutedCategories == nil {
		p.MutedCategories = []string{}
	}
	if start.Valid && end.Valid && tz != nil {
		p.QuietHours = &QuietHours{Start: formatTimeOfDay(start), End: formatTimeOfDay(end), TZ: *tz}
	}
	return p, nil
}

// formatTimeOfDay formats a time of day as HH:MM.
func formatTimeOfDay(t pgtype.Time) string {
	m := t.Microseconds / 60_000_000
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}

// ---- deliveries ----

// InsertDeliveries adds deliveries written at now; a (notification, device)
// pair that already has a row is left as it is (that row's history wins).
// Returns how many were new.
func (s Store) InsertDeliveries(ctx context.Context, ds []Delivery, now time.Time) (int64, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	tag, err := s.db.Exec(ctx, insertDeliveries, deliveryArrays(ds, now)...)
	if err != nil {
		return 0, fmt.Errorf("insert %d deliveries: %w", len(ds), err)
	}
	return tag.RowsAffected(), nil
}

// InsertClaimed is InsertDeliveries for rows some of which the caller
// claims as it writes them: a row with status sending is written as ClaimDue
// would leave it (claimed at now, first attempt), so the caller sends it
// without a claim statement. It returns the claimed rows it inserted; a
// pair that already had a row is not returned.
func (s Store) InsertClaimed(ctx context.Context, ds []Delivery, now time.Time) ([]Delivery, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, insertDeliveries+` RETURNING `+deliveryColumns, deliveryArrays(ds, now)...)
	if err != nil {
		return nil, fmt.Errorf("insert %d deliveries: %w", len(ds), err)
	}
	out, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("insert %d deliveries: %w", len(ds), err)
	}
	return slices.DeleteFunc(out, func(d Delivery) bool { return d.Status != DeliverySending }), nil
}

// insertDeliveries writes the rows of deliveryArrays; a row written
// sending is claimed by its writer.
const insertDeliveries = `
	INSERT INTO notification_deliveries (notification_id, user_id, device_token, platform, locale, status, not_before,
		created_at, claimed_at, attempts)
	SELECT u.n, u.u, u.t, u.p, u.l, u.s, u.nb, $8::timestamptz,
		CASE WHEN u.s = 'sending' THEN $8::timestamptz END, CASE WHEN u.s = 'sending' THEN 1 ELSE 0 END
	FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS u(n, u, t, p, l, s, nb)
	ON CONFLICT (notification_id, device_token) DO NOTHING`

func deliveryArrays(ds []Delivery, now time.Time) []any {
	var (
		nid, uid, tok, plat, loc, st = make([]string, len(ds)), make([]string, len(ds)),
			make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds))
		nb = make([]*time.Time, len(ds))
	)
	for i, d := range ds {
		nid[i], uid[i], tok[i], plat[i], loc[i], st[i], nb[i] =
			d.NotificationID, d.UserID, d.DeviceToken, d.Platform, d.Locale, d.Status, d.NotBefore
	}
	return []any{nid, uid, tok, plat, loc, st, nb, now}
}

const deliveryColumns = `id, notification_id::text, user_id, device_token, platform, locale, status, not_before, attempts`

// Claim moves up to limit deliveries of the notification that are pending,
// or deferred with not_before <= now, to sending, and returns them. Rows
// claimed concurrently by another worker are skipped (SKIP LOCKED), so two
// claims never return the same row.
func (s Store) Claim(ctx context.Context, notificationID string, now time.Time, limit int) ([]Delivery, error) {
	rows, err := s.db.Query(ctx, `
		UPDATE notification_deliveries SET status = 'sending', claimed_at = $2, attempts = attempts + 1
		WHERE id IN (
			SELECT id FROM notification_deliveries
			WHERE notification_id = $1
			  AND (status = 'pending' OR (status = 'deferred' AND not_before <= $2))
			ORDER BY id LIMIT $3
			FOR UPDATE SKIP LOCKED)
		  AND status IN ('pending', 'deferred')
		RETURNING `+deliveryColumns, notificationID, now, limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries of notification %s: %w", notificationID, err)
	}
	out, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries of notification %s: %w", notificationID, err)
	}
	return out, nil
}

// ClaimDue is Claim across notifications: it moves up to limit deliveries
// of any notification that are pending (oldest first), or deferred with
// not_before <= now, to sending and returns them, so one batch fills whole
// provider requests whoever the messages are for. Rows claimed concurrently
// are skipped (SKIP LOCKED): two claims never return the same row.
//
// Its cost must not grow with the backlog, whatever the planner believes:
// during a burst the table's statistics still say few rows are pending. The
// statement lives in the function notification_claim_due (migration 00064),
// whose settings leave the planner one plan: an ordered scan of the pending
// index that stops after limit locked rows, then the update by primary key.
// Planned freely it read every pending index entry per claim (a bitmap
// scan, 490 ms a claim at 200,000 deliveries), or read and sorted every
// pending row ("ORDER BY id"). The update needs no status check of its own:
// every id was locked by the statement (FOR UPDATE re-checks the condition
// on the row's latest version), so no one else moved it since.
func (s Store) ClaimDue(ctx context.Context, now time.Time, limit int) ([]Delivery, error) {
	rows, err := s.db.Query(ctx, `SELECT `+deliveryColumns+` FROM notification_claim_due($1, $2)`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("claim due deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("claim due deliveries: %w", err)
	}
	return out, nil
}

// NotificationsByID returns the notifications with ids (one statement),
// keyed by id; unknown ids are absent.
func (s Store) NotificationsByID(ctx context.Context, ids []string) (map[string]Notification, error) {
	rows, err := s.db.Query(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("get %d notifications: %w", len(ids), err)
	}
	defer rows.Close()
	out := make(map[string]Notification, len(ids))
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("get notifications: %w", err)
		}
		out[n.ID] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get notifications: %w", err)
	}
	return out, nil
}

// CompleteSettled is CompleteIfSettled for many notifications in one
// statement: every sending one of ids with no delivery left pending,
// deferred or being sent becomes done. Returns how many did. It runs
// through the function notification_complete_settled (migration 00066),
// whose plan stays an index lookup of each notification's deliveries
// however the table's statistics looked when the connection first ran it.
func (s Store) CompleteSettled(ctx context.Context, ids []string, now time.Time) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var done int64
	if err := s.db.QueryRow(ctx, `SELECT notification_complete_settled($1::uuid[], $2)`, ids, now).Scan(&done); err != nil {
		return 0, fmt.Errorf("complete %d notifications: %w", len(ids), err)
	}
	return done, nil
}

// CompleteForgotten completes up to limit notifications fanned out before
// fannedOutBefore that are still "sending" with every delivery settled:
// those whose completion after their last settle was lost (the statement
// failed, or the process died between the two). Returns their ids. It runs
// in the push:receipts job (every 5 minutes) and is planned at each call
// (pgx.QueryExecModeCacheDescribe), for the tables as they are then.
func (s Store) CompleteForgotten(ctx context.Context, fannedOutBefore, now time.Time, limit int) ([]string, error) {
	return s.notificationIDs(ctx, `
		WITH settled AS (
			SELECT n.id FROM notifications n
			WHERE n.status = 'sending' AND n.fanned_out_at < $1 AND `+nothingLeftToSend+`
			ORDER BY n.id LIMIT $3 FOR NO KEY UPDATE OF n SKIP LOCKED)
		UPDATE notifications u SET status = 'done', done_at = $2
		FROM settled WHERE u.id = settled.id AND u.status = 'sending'
		RETURNING u.id::text`, pgx.QueryExecModeCacheDescribe, fannedOutBefore, now, limit)
}

func scanDelivery(r pgx.CollectableRow) (Delivery, error) {
	var d Delivery
	err := r.Scan(&d.ID, &d.NotificationID, &d.UserID, &d.DeviceToken, &d.Platform, &d.Locale,
		&d.Status, &d.NotBefore, &d.Attempts)
	return d, err
}

// Settle records the outcome of claimed deliveries. Rows no longer in
// sending (settled by someone else, or failed as stale) are left alone.
func (s Store) Settle(ctx context.Context, outs []Outcome, now time.Time) error {
	return s.settle(ctx, outs, now, DeliverySending)
}

// SettleReceipts records receipt outcomes of sent deliveries.
func (s Store) SettleReceipts(ctx context.Context, outs []Outcome, now time.Time) error {
	return s.settle(ctx, outs, now, DeliverySent)
}

func (s Store) settle(ctx context.Context, outs []Outcome, now time.Time, from string) error {
	if len(outs) == 0 {
		return nil
	}
	ids := make([]int64, len(outs))
	st, tick, errs := make([]string, len(outs)), make([]string, len(outs)), make([]string, len(outs))
	acc := make([]bool, len(outs))
	for i, o := range outs {
		ids[i], st[i], tick[i], errs[i], acc[i] = o.ID, o.Status, o.TicketID, o.Error, o.Accepted
	}
	// From sending, sent_at is the settle time; receipts keep it.
	_, err := s.db.Exec(ctx, `
		UPDATE notification_deliveries d SET
			status = u.status,
			accepted = d.accepted OR u.accepted,
			ticket_id = COALESCE(NULLIF(u.ticket, ''), d.ticket_id),
			error = NULLIF(u.err, ''),
			sent_at = CASE WHEN $6 = 'sending' THEN $5 ELSE d.sent_at END,
			receipt_checked_at = CASE WHEN $6 = 'sent' THEN $5 ELSE d.receipt_checked_at END
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $7::bool[]) AS u(id, status, ticket, err, accepted)
		WHERE d.id = u.id AND d.status = $6`,
		ids, st, tick, errs, now, from, acc)
	if err != nil {
		return fmt.Errorf("settle %d deliveries: %w", len(outs), err)
	}
	return nil
}

// Release returns claimed deliveries to pending after a failure that
// certainly did not reach the provider, so a retry sends them.
func (s Store) Release(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.db.Exec(ctx, `
		UPDATE notification_deliveries SET status = 'pending'
		WHERE id = ANY($1) AND status = 'sending'`, ids)
	if err != nil {
		return fmt.Errorf("release %d deliveries: %w", len(ids), err)
	}
	return nil
}

// DueForReceipts returns up to limit sent deliveries whose ticket is older
// than sentBefore and whose receipt was not looked for since checkedBefore,
// oldest first.
func (s Store) DueForReceipts(ctx context.Context, sentBefore, checkedBefore time.Time, limit int) ([]ReceiptCheck, error) {
	rows, err := s.db.Query(ctx, `
		SELECT id, ticket_id, device_token, sent_at FROM notification_deliveries
		WHERE status = 'sent' AND ticket_id IS NOT NULL AND sent_at <= $1
		  AND (receipt_checked_at IS NULL OR receipt_checked_at < $2)
		ORDER BY sent_at, id LIMIT $3`, sentBefore, checkedBefore, limit)
	if err != nil {
		return nil, fmt.Errorf("list due receipts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReceiptCheck, error) {
		var c ReceiptCheck
		err := r.Scan(&c.ID, &c.TicketID, &c.DeviceToken, &c.SentAt)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list due receipts: %w", err)
	}
	return out, nil
}

// MarkReceiptChecked notes that sent deliveries had no receipt yet.
func (s Store) MarkReceiptChecked(ctx context.Context, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.db.Exec(ctx, `
		UPDATE notification_deliveries SET receipt_checked_at = $2
		WHERE id = ANY($1) AND status = 'sent'`, ids, now)
	if err != nil {
		return fmt.Errorf("mark %d receipts checked: %w", len(ids), err)
	}
	return nil
}

// FailStale settles deliveries claimed before claimedBefore and never
// settled (their worker died mid-send) as failed with reason: the provider
// may have them, so they are never sent again. Returns the notifications
// touched.
func (s Store) FailStale(ctx context.Context, claimedBefore time.Time, reason string) ([]string, error) {
	return s.notificationIDs(ctx, `
		UPDATE notification_deliveries SET status = 'failed', error = $2
		WHERE status = 'sending' AND claimed_at < $1
		RETURNING notification_id::text`, claimedBefore, reason)
}

// Stalled lists notifications with deliveries that should be on their way
// but may have no task left to send them: deferred ones due at now, and
// pending ones written (or released) before pendingBefore.
func (s Store) Stalled(ctx context.Context, now, pendingBefore time.Time, limit int) ([]string, error) {
	return s.notificationIDs(ctx, `
		SELECT DISTINCT notification_id::text FROM notification_deliveries
		WHERE (status = 'deferred' AND not_before <= $1)
		   OR (status = 'pending' AND coalesce(claimed_at, created_at) < $2)
		LIMIT $3`, now, pendingBefore, limit)
}

// PendingCount counts the claimable deliveries of a notification (pending,
// or deferred and due at now).
func (s Store) PendingCount(ctx context.Context, notificationID string, now time.Time) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `
		SELECT count(*) FROM notification_deliveries
		WHERE notification_id = $1 AND (status = 'pending' OR (status = 'deferred' AND not_before <= $2))`,
		notificationID, now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending deliveries of notification %s: %w", notificationID, err)
	}
	return n, nil
}

// DeferredTimes lists the distinct not_before instants of a notification's
// deferred deliveries, with how many deliveries wait for each.
func (s Store) DeferredTimes(ctx context.Context, notificationID string) (map[time.Time]int, error) {
	rows, err := s.db.Query(ctx, `
		SELECT not_before, count(*) FROM notification_deliveries
		WHERE notification_id = $1 AND status = 'deferred' GROUP BY not_before`, notificationID)
	if err != nil {
		return nil, fmt.Errorf("list deferred times of notification %s: %w", notificationID, err)
	}
	defer rows.Close()
	out := make(map[time.Time]int)
	for rows.Next() {
		var (
			t time.Time
			n int
		)
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("list deferred times: %w", err)
		}
		out[t] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deferred times: %w", err)
	}
	return out, nil
}

func (s Store) notificationIDs(ctx context.Context, sql string, args ...any) ([]string, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list notification ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list notification ids: %w", err)
	}
	seen := make(map[string]bool, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}
