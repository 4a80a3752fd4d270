"""A real Celery client (Debian's python3-celery) driving FundiGO's Go workers.

The Go tests run it as `/usr/bin/python3 celery_driver.py SCENARIO [ARGS]`
with CELERY_BROKER_URL, CELERY_RESULT_BACKEND and CELERY_QUEUE set. Tasks are
declared here only so Python can call them with .delay()/.apply_async(); their
bodies never run (a Go worker consumes the queue). Each scenario prints one
JSON object on stdout (and `send` prints the task id first) for the Go test to
check. It is also the Celery app of `celery -A celery_driver beat`.
"""
import datetime
import json
import os
import sys
import time

from celery import Celery

TIMEOUT = float(os.environ.get("CELERY_GET_TIMEOUT", "30"))

app = Celery(
    "fundigo_celery_test",
    broker=os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
    backend=os.environ.get("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1"),
)
app.conf.update(
    task_default_queue=os.environ.get("CELERY_QUEUE", "celery"),
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    enable_utc=True,
    timezone="UTC",
)
# On a Redis broker the tests isolate their keys with kombu's global_keyprefix
# and shorten the visibility timeout.
_transport = {}
if os.environ.get("CELERY_BROKER_KEYPREFIX"):
    _transport["global_keyprefix"] = os.environ["CELERY_BROKER_KEYPREFIX"]
if os.environ.get("CELERY_VISIBILITY_TIMEOUT"):
    _transport["visibility_timeout"] = float(os.environ["CELERY_VISIBILITY_TIMEOUT"])
if _transport:
    app.conf.broker_transport_options = _transport
# Remote-control tests give each test its own pidbox namespace.
if os.environ.get("CELERY_CONTROL_EXCHANGE"):
    app.conf.control_exchange = os.environ["CELERY_CONTROL_EXCHANGE"]
if os.environ.get("CELERY_BEAT_EVERY"):
    app.conf.beat_schedule = {
        "tick": {
            "task": "tests.tick",
            "schedule": float(os.environ["CELERY_BEAT_EVERY"]),
            "args": ("beat",),
        },
    }


def _go_task(name):
    def body(*args, **kwargs):
        raise RuntimeError(name + " runs on the Go workers")

    body.__name__ = name.rsplit(".", 1)[-1]
    return app.task(name=name)(body)


send_notification_async = _go_task("notifications.tasks.send_notification_async")
process_payment_callback = _go_task("payments.tasks.process_payment_callback")
update_technician_ratings = _go_task("ratings.tasks.update_technician_ratings")
add = _go_task("tests.add")
fail = _go_task("tests.fail")
flaky = _go_task("tests.flaky")
slow = _go_task("tests.slow")
tick = _go_task("tests.tick")
not_moved = _go_task("billing.tasks.not_moved_yet")


def outcome(r, t0=None):
    """Wait for r like Django would and describe what came back."""
    out = {"id": r.id}
    try:
        out["result"] = r.get(timeout=TIMEOUT)
    except Exception as e:  # the Go worker's exception, re-raised by Celery
        out["exc_class"] = type(e).__name__
        out["exc_module"] = type(e).__module__
        out["exc_args"] = [str(a) for a in e.args]
        out["is_value_error"] = isinstance(e, ValueError)
        out["traceback"] = r.traceback
    out["state"] = r.state
    if t0 is not None:
        out["elapsed"] = time.monotonic() - t0
    return out


def scenario_success():
    return outcome(add.delay(2, 3))


def scenario_failure():
    return outcome(fail.delay("amount must be positive"))


def scenario_retry():
    r = flaky.delay(2)
    states = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        s = r.state
        if not states or states[-1] != s:
            states.append(s)
        if s in ("SUCCESS", "FAILURE"):
            break
        time.sleep(0.05)
    out = outcome(r)
    out["states"] = states
    return out


def scenario_countdown():
    t0 = time.monotonic()
    return outcome(add.apply_async((20, 22), countdown=3), t0)


def scenario_eta():
    t0 = time.monotonic()
    eta = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    return outcome(add.apply_async(args=(1,), kwargs={}, eta=eta), t0)


def scenario_expires():
    # Due after it expires: Celery's semantics say it must not run.
    return outcome(add.apply_async((1, 2), countdown=3, expires=1))


def scenario_expires_ok():
    return outcome(add.apply_async((1, 2), expires=60))


def scenario_unknown():
    return outcome(not_moved.delay(1))


def scenario_native():
    callback = json.loads(os.environ["STK_CALLBACK"])
    return {
        "notification": outcome(send_notification_async.delay(42, "Fundi yako yuko njiani")),
        "payment": outcome(process_payment_callback.delay(callback)),
        "ratings": outcome(update_technician_ratings.delay()),
    }


def scenario_send():
    """Send tests.slow, print its id at once, then wait for its result."""
    r = slow.delay(sys.argv[2] if len(sys.argv) > 2 else "x")
    print(json.dumps({"id": r.id}), flush=True)
    return outcome(r)


def scenario_send_later():
    """Send tests.add with a countdown of $CELERY_COUNTDOWN seconds; do not wait."""
    r = add.apply_async((20, 22), countdown=float(os.environ["CELERY_COUNTDOWN"]))
    return {"id": r.id}


def scenario_result():
    """Wait for the result of task $CELERY_TASK_ID (sent earlier)."""
    return outcome(app.AsyncResult(os.environ["CELERY_TASK_ID"]))


def scenario_inspect_ping():
    """Ping every worker the way `celery inspect ping` does (waits 2s)."""
    return {"replies": app.control.inspect(timeout=2).ping() or {}}


def main():
    name = sys.argv[1]
    fn = globals().get("scenario_" + name)
    if fn is None:
        sys.exit("unknown scenario " + name)
    print(json.dumps(fn(), default=str), flush=True)


if __name__ == "__main__":
    main()
