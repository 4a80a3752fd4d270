-- The relay is woken after the commit, not inside it. A NOTIFY issued by a
-- transaction makes PostgreSQL serialise that transaction's commit (flush
-- included) with every other notifying one: with this trigger, every
-- transaction that wrote an event (payment created, paid, notification
-- requested, …) queued behind the others' fsyncs. Writers now ask pkg/store
-- for the wake-up (NotifyOnCommit / Notify), which sends it from a
-- transaction of its own (pkg/store/notify.go); the relay's polling covers a
-- wake-up lost to a crash between the commit and the notification.

-- +goose Up
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();

-- +goose Down
-- +goose StatementBegin
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fundigo_outbox', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
