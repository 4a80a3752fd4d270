"""A Python Celery worker and a Go worker sharing one Redis broker.

Routing decides who may run what (docs/celery-migration.md): tasks with a Go
handler are routed to MIXED_GO_QUEUE, which both the Go worker and this
module's Python worker consume (either may run them); Python-only tasks go to
MIXED_PY_QUEUE, which only Python consumes, so the Go worker never sees them.
Every run appends the worker's name to the Redis list MIXED_RUNS_PREFIX+<id>.

  python3 -m celery -A celery_mixed worker -Q GOQ,PYQ ...   # the Python worker
  python3 celery_mixed.py send N                              # the client
"""
import json
import os
import sys
import time

import redis
from celery import Celery

GO_QUEUE = os.environ["MIXED_GO_QUEUE"]
PY_QUEUE = os.environ["MIXED_PY_QUEUE"]
RUNS = os.environ["MIXED_RUNS_PREFIX"]

app = Celery(
    "fundigo_celery_mixed",
    broker=os.environ["CELERY_BROKER_URL"],
    backend=os.environ["CELERY_RESULT_BACKEND"],
)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    enable_utc=True,
    task_default_queue=PY_QUEUE,
    task_routes={"tests.add": {"queue": GO_QUEUE}, "legacy.report": {"queue": PY_QUEUE}},
    broker_transport_options={"global_keyprefix": os.environ["CELERY_BROKER_KEYPREFIX"]},
    worker_prefetch_multiplier=1,
)
_runs = redis.Redis.from_url(os.environ["CELERY_RESULT_BACKEND"])


@app.task(name="tests.add", bind=True)
def add(self, *args):
    _runs.rpush(RUNS + self.request.id, "python")
    return sum(args)


@app.task(name="legacy.report", bind=True)
def report(self, n):
    _runs.rpush(RUNS + self.request.id, "python")
    return "report %d" % n


def send(n):
    t0 = time.monotonic()
    sent = []
    for i in range(n):
        if i % 2:
            sent.append(("legacy", report.delay(i), "report %d" % i))
        else:
            sent.append(("go", add.delay(i, 1), i + 1))
    out = {"go": [], "legacy": [], "wrong": []}
    for kind, r, want in sent:
        got = r.get(timeout=float(os.environ.get("CELERY_GET_TIMEOUT", "60")))
        out[kind].append(r.id)
        if got != want:
            out["wrong"].append([r.id, got, want])
    out["elapsed"] = time.monotonic() - t0
    return out


if __name__ == "__main__" and sys.argv[1] == "send":
    print(json.dumps(send(int(sys.argv[2]))), flush=True)
