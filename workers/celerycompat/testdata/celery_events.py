"""Watch Celery events the way Flower does (celery.events.EventReceiver).

`python3 celery_events.py HOSTNAME` prints "ready" once it has seen an event
of worker HOSTNAME (so it is subscribed), then one JSON line per event of
that worker, and exits after a task-succeeded and a task-failed.
"""
import json
import signal
import sys

from celery_driver import app

HOST = sys.argv[1]
seen = set()
ready = False


def on_event(event):
    global ready
    if event.get("hostname") != HOST:
        return
    if not ready:
        ready = True
        print("ready", flush=True)
    print(json.dumps(event, default=str), flush=True)
    seen.add(event["type"])
    if {"task-succeeded", "task-failed"} <= seen:
        recv.should_stop = True


signal.alarm(60)
with app.connection() as conn:
    recv = app.events.Receiver(conn, handlers={"*": on_event})
    recv.capture(limit=None, timeout=None, wakeup=False)
