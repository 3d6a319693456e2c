"""Log lines carry the id of the request they belong to (`X-Request-Id`), in plain text for people
(DEBUG, `make run`) and as one JSON object per line in production (LOG_FORMAT=json)."""
import contextvars
import logging

from pythonjsonlogger.json import JsonFormatter

request_id = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (`-` outside a request: jobs, commands)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonLines(JsonFormatter):
    """`{"time", "level", "logger", "message", "request_id", ...extra}` on one line; a traceback,
    when there is one, is in `exc_info`."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", False)
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s", *args, **kwargs)
