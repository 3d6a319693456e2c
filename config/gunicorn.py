"""gunicorn's settings for production (`gunicorn config.wsgi -c config/gunicorn.py`, see Procfile).

SIGTERM is a graceful shutdown: the master stops accepting connections and each worker finishes the
requests it has (up to GRACEFUL_TIMEOUT seconds) before it exits; a deploy or a scale-down loses no
request. With PROMETHEUS_MULTIPROC_DIR set, the directory is emptied at start and a dead worker's
live gauges are dropped (its counters stay summed, as Prometheus expects).
"""
import os
import shutil
from pathlib import Path

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "30"))
timeout = int(os.environ.get("WORKER_TIMEOUT", "60"))
keepalive = 5
backlog = 2048
# Requests are logged by the service itself (one line each, with the request id); gunicorn's own
# lines (start, stop, worker deaths) go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
