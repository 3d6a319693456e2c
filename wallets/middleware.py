"""Every request gets an id (`X-Request-Id`: the caller's, when it is a sane token, or a new one),
returned in the response and carried by every log line written while it runs; its duration is
recorded by endpoint for /metrics and, with ACCESS_LOG on, in one log line."""
import logging
import re
import time
import uuid

from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django_otp import middleware as otp

from wallets.logs import request_id
from wallets.metrics import REQUESTS
from wallets.network import client_ip

HEADER = "X-Request-Id"
ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access = logging.getLogger("wallet.access")


def endpoint_of(request) -> str:
    """The URL pattern that served the request (`v1/sessions/<str:session_id>`): a few dozen values,
    never the ids themselves."""
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unmatched"


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = given if ACCEPTED.fullmatch(given) else uuid.uuid4().hex
        request.request_id = rid
        # Set for the rest of this request in this thread; not reset at the end, so that Django's own
        # lines written after the middleware has answered (a 4xx or 5xx) still carry it.
        request_id.set(rid)
        began = time.perf_counter()
        response = self.get_response(request)
        response[HEADER] = rid
        elapsed = time.perf_counter() - began
        endpoint = endpoint_of(request)
        REQUESTS.labels(endpoint, request.method, f"{response.status_code // 100}xx").observe(elapsed)
        if settings.ACCESS_LOG:
            access.info(
                "%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed * 1000,
                extra={"method": request.method, "path": request.path, "endpoint": endpoint,
                       "status": response.status_code, "duration_ms": round(elapsed * 1000, 1),
                       "client_ip": client_ip(request)},
            )
        return response


# The back office's middleware, skipped on the money API (`/v1/`, `/api/v1/`): its callers carry an
# API key or a JWT, never a browser session, so sessions, CSRF cookies, Django's request.user, the
# second factor and messages would only cost time there. Subclasses, so Django's checks still find
# them. (CSRF stays Django's own: it lets csrf-exempt views, every API view, pass at once.)

API_PREFIXES = ("/v1/", "/api/v1/")


def is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIXES)


class BodyLimitMiddleware:
    """A money API request whose declared body is over API_MAX_BODY_BYTES is 413 `payload_too_large`
    at once, before anything reads it (Django's own limit would answer a bare 400 past 2.5 MB)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api(request):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0  # not a number: the server reads no body, and the parser answers for it
            if length > settings.API_MAX_BODY_BYTES:
                from wallets.api.errors import payload_too_large

                return payload_too_large()
        return self.get_response(request)


class _BackOfficeOnly:
    def __call__(self, request):
        return self.get_response(request) if is_api(request) else super().__call__(request)


class SessionMiddleware(_BackOfficeOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(_BackOfficeOnly, auth.AuthenticationMiddleware):
    pass


class OTPMiddleware(_BackOfficeOnly, otp.OTPMiddleware):
    pass


class MessageMiddleware(_BackOfficeOnly, messages.MessageMiddleware):
    pass
