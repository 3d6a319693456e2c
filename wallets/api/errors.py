"""One error envelope for both dialects: `{"code", "message"[, "fields"]}`.

Validation errors are 400 in the WeBuddy dialect (`/v1`) and 422 in the TMR dialect
(`/api/v1/...`), as its seed says. Nothing reaches a client as an HTML error page.
"""
import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from wallets.api.rendering import DecimalJSONRenderer, PayloadTooLarge
from wallets.errors import DomainError, ErrorCode
from wallets.metrics import REFUSALS

logger = logging.getLogger(__name__)


def is_tmr_path(path: str) -> bool:
    return path.startswith("/api/v1/")


def validation_status(request) -> int:
    return 422 if request is not None and is_tmr_path(request.path) else 400


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field" or "parent.child": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                for k, v in _flatten(value, f"{prefix}.{index}" if prefix else str(index)).items():
                    out.setdefault(k, []).extend(v)
            else:
                out.setdefault(prefix or "non_field_errors", []).append(str(value))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def _summary(fields: dict[str, list[str]]) -> str:
    name, messages = next(iter(fields.items()))
    if name == "non_field_errors":
        return messages[0]
    return f"{name}: {messages[0]}"


def error_body(code: ErrorCode | str, message: str, fields=None) -> dict:
    body = {"code": ErrorCode(code).value if isinstance(code, ErrorCode) else code, "message": message}
    REFUSALS.labels(body["code"]).inc()
    if fields:
        body["fields"] = fields
    return body


def domain_refusal(exc: DomainError, request) -> tuple[dict, int]:
    """A service's refusal: its envelope and status (a validation error's by dialect)."""
    status = validation_status(request) if exc.code == ErrorCode.VALIDATION_ERROR else exc.status
    return error_body(exc.code, exc.message, exc.fields), status


def _credentials_message(detail) -> str:
    """A sentence for a refused credential: simplejwt puts a dict (its reason per token class) there."""
    if not isinstance(detail, dict):
        return str(detail)
    reasons = [m["message"] for m in detail.get("messages", []) if isinstance(m, dict) and m.get("message")]
    reason = str(reasons[0] if reasons else detail.get("detail", "")) or "The credentials are not valid"
    return reason if reason.endswith(".") else f"{reason}."


def exception_handler(exc, context):
    response = _exception_response(exc, context)
    request = context.get("request")
    if response is not None and request is not None and not isinstance(
        getattr(request, "accepted_renderer", None), JSONRenderer
    ):
        # Views that answer HTML or YAML (the API docs and schema) still refuse in the JSON envelope.
        request.accepted_renderer, request.accepted_media_type = DecimalJSONRenderer(), "application/json"
    return response


def _exception_response(exc, context):
    request = context.get("request")
    headers = {}
    if isinstance(exc, DomainError):
        body, status = domain_refusal(exc, request)
        return Response(body, status=status)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = f"Invalid input. {_summary(fields)}" if fields else "Invalid input."
        return Response(error_body(ErrorCode.VALIDATION_ERROR, message, fields), status=validation_status(request))
    if isinstance(exc, exceptions.ParseError):
        return Response(error_body(ErrorCode.MALFORMED_JSON, str(exc.detail)), status=validation_status(request))
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        return Response(
            error_body(ErrorCode.NOT_AUTHENTICATED, _credentials_message(exc.detail)),
            status=401,
            headers={"WWW-Authenticate": 'Api-Key, Bearer realm="api"'},
        )
    if isinstance(exc, (exceptions.PermissionDenied, DjangoPermissionDenied)):
        message = str(getattr(exc, "detail", "")) or "You do not have permission to perform this action."
        return Response(error_body(ErrorCode.PERMISSION_DENIED, message), status=403)
    if isinstance(exc, (exceptions.NotFound, Http404)):
        return Response(error_body(ErrorCode.NOT_FOUND, "Not found."), status=404)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response(error_body(ErrorCode.METHOD_NOT_ALLOWED, str(exc.detail)), status=405)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response(error_body(ErrorCode.UNSUPPORTED_MEDIA_TYPE, str(exc.detail)), status=415)
    if isinstance(exc, PayloadTooLarge):
        return Response(error_body(ErrorCode.PAYLOAD_TOO_LARGE, str(exc.detail)), status=413)
    if isinstance(exc, RequestDataTooBig):  # Django's own limit, should a body get past the middleware's
        return Response(error_body(ErrorCode.PAYLOAD_TOO_LARGE, "The request body is too large."), status=413)
    if isinstance(exc, exceptions.Throttled):
        if exc.wait is not None:
            headers["Retry-After"] = str(math.ceil(exc.wait))
        return Response(error_body(ErrorCode.RATE_LIMITED, "Too many attempts; try again later."), status=429, headers=headers)
    if isinstance(exc, exceptions.APIException):
        return Response(error_body(str(exc.default_code), str(exc.detail)), status=exc.status_code)
    return None  # unexpected: Django's handler500 answers with the envelope and logs it


def payload_too_large() -> JsonResponse:
    limit = settings.API_MAX_BODY_BYTES
    return JsonResponse(error_body(ErrorCode.PAYLOAD_TOO_LARGE, f"The request body is larger than {limit} bytes."),
                        status=413)


def bad_request_view(request, exception=None):
    return JsonResponse(error_body("bad_request", "The request could not be understood."), status=400)


def forbidden_view(request, exception=None):
    return JsonResponse(error_body(ErrorCode.PERMISSION_DENIED, "Forbidden."), status=403)


def not_found_view(request, exception=None):
    return JsonResponse(error_body(ErrorCode.NOT_FOUND, "No such endpoint."), status=404)


def server_error_view(request):
    return JsonResponse(error_body(ErrorCode.SERVER_ERROR, "Something went wrong on our side. Retrying with the same Idempotency-Key is safe."), status=500)
