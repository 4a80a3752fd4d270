-- +goose Up
-- Notifications domain (issue 4). User ids belong to the Django app and arrive
-- as opaque strings.

-- Push tokens. A token belongs to one user at a time: registering it again
-- (possibly for another user) updates the row and reactivates it.
-- DeviceNotRegistered / UNREGISTERED set active = false.
CREATE TABLE devices (
    token              text        PRIMARY KEY CHECK (token <> '' AND char_length(token) <= 512),
    user_id            text        NOT NULL CHECK (user_id <> '' AND char_length(user_id) <= 128),
    platform           text        NOT NULL CHECK (platform IN ('expo', 'fcm')),
    locale             text        NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'sw')),
    active             boolean     NOT NULL DEFAULT true,
    deactivated_reason text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_user_id_active ON devices (user_id) WHERE active;

-- Per-user preferences. Quiet hours are a daily local-time window in tz;
-- start > end spans midnight. All three are set or none.
CREATE TABLE notification_preferences (
    user_id          text        PRIMARY KEY CHECK (user_id <> '' AND char_length(user_id) <= 128),
    muted_categories text[]      NOT NULL DEFAULT '{}',
    quiet_start      time,
    quiet_end        time,
    quiet_tz         text,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL) AND (quiet_start IS NULL) = (quiet_tz IS NULL))
);

-- One row per requested notification. source_key makes a request or an event
-- create it once: "api:<principal>:<Idempotency-Key>" or
-- "event:<routing key>:<entity id>:<recipient role>".
-- status: queued → sending (fanned out) → done (no delivery left to send).
CREATE TABLE notifications (
    id            uuid        PRIMARY KEY,
    source_key    text        NOT NULL CHECK (char_length(source_key) <= 512),
    user_ids      text[]      NOT NULL CHECK (cardinality(user_ids) BETWEEN 1 AND 10000),
    template      text        NOT NULL DEFAULT '',
    params        jsonb       NOT NULL DEFAULT '{}',
    title         text        NOT NULL DEFAULT '',
    body          text        NOT NULL DEFAULT '',
    data          jsonb       NOT NULL DEFAULT '{}',
    category      text        NOT NULL DEFAULT '' CHECK (char_length(category) <= 64),
    priority      text        NOT NULL DEFAULT 'normal' CHECK (priority IN ('normal', 'high')),
    collapse_id   text        NOT NULL DEFAULT '' CHECK (char_length(collapse_id) <= 64),
    status        text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'done')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    fanned_out_at timestamptz,
    done_at       timestamptz,
    CONSTRAINT notifications_source_key_key UNIQUE (source_key)
);

-- One row per (notification, device): the unique key is what makes a send
-- happen at most once per device however often the request or event is
-- replayed. A row is claimed (pending/deferred → sending) by a conditional
-- update before the provider is called, and settled after:
--   pending   waiting to be sent
--   deferred  held by quiet hours until not_before
--   sending   claimed by a worker; the provider may have it
--   sent      Expo ticket ok (ticket_id), receipt not yet known
--   delivered receipt ok (Expo) or accepted (FCM)
--   failed    error ticket/receipt, refused request, or outcome unknown
--   invalid   DeviceNotRegistered / UNREGISTERED: the device was deactivated
--   muted     the user muted the category; never sent
CREATE TABLE notification_deliveries (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id    uuid        NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    user_id            text        NOT NULL,
    device_token       text        NOT NULL,
    platform           text        NOT NULL CHECK (platform IN ('expo', 'fcm')),
    locale             text        NOT NULL CHECK (locale IN ('en', 'sw')),
    status             text        NOT NULL CHECK (status IN
                           ('pending', 'deferred', 'sending', 'sent', 'delivered', 'failed', 'invalid', 'muted')),
    not_before         timestamptz,
    accepted           boolean     NOT NULL DEFAULT false, -- the provider took it (ok ticket / FCM 200)
    ticket_id          text,
    error              text,
    attempts           integer     NOT NULL DEFAULT 0,
    claimed_at         timestamptz,
    sent_at            timestamptz,
    receipt_checked_at timestamptz,
    CONSTRAINT notification_deliveries_once UNIQUE (notification_id, device_token)
);
CREATE INDEX notification_deliveries_claim ON notification_deliveries (notification_id, id)
    WHERE status IN ('pending', 'deferred');
CREATE INDEX notification_deliveries_receipts ON notification_deliveries (sent_at)
    WHERE status = 'sent';
CREATE INDEX notification_deliveries_sending ON notification_deliveries (claimed_at)
    WHERE status = 'sending';
CREATE INDEX notification_deliveries_deferred ON notification_deliveries (not_before)
    WHERE status = 'deferred';

-- +goose Down
DROP TABLE notification_deliveries;
DROP TABLE notifications;
DROP TABLE notification_preferences;
DROP TABLE devices;
