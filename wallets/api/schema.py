"""OpenAPI pieces shared by both dialects: the Idempotency-Key header on every POST and PATCH, the
API-key security scheme, and the error envelope with each endpoint's error codes."""
from collections import defaultdict

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from wallets.api.fields import InputSerializer
from wallets.api.idempotency import HEADER, METHODS
from wallets.errors import DEFAULT_STATUS, ErrorCode

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes the request safe to retry for 24 hours: a retry with the same body gets the first "
        "response back with `Idempotent-Replayed: true`; another body with the same key is 422 "
        "`idempotency_key_reused`; a retry while the first is still running is 409 "
        "`idempotency_key_in_use`."
    ),
)


class AutoSchema(SpectacularAutoSchema):
    def get_auth(self):
        # Views may name the one credential they are meant for (both are accepted, so that a
        # credential of the wrong kind gets 403 rather than 401).
        # The parent also registers the security schemes the requirements refer to: always run it.
        found = super().get_auth()
        declared = getattr(self.view, "schema_auth", None)
        return declared if declared is not None else found

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(force_instance(serializer), InputSerializer):
            schema["additionalProperties"] = False  # an unknown field is refused, not ignored
        return schema

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method in METHODS and getattr(self.view, "idempotent", False):
            parameters.append(IDEMPOTENCY_PARAMETER)
        return parameters


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "wallets.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; scope `webuddy` for /v1, scope `tmr` for escrow calls.",
        }


class UserJwtScheme(SimpleJWTScheme):
    """simplejwt's `jwtAuth` bearer scheme, for our subclass of its authentication as well."""

    target_class = "rest_framework_simplejwt.authentication.JWTAuthentication"
    match_subclasses = True
    priority = 1


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable snake_case error code.")
    message = serializers.CharField(help_text="A human sentence.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors only: the messages for each field.",
    )


def error_responses(*codes: ErrorCode, dialect: str, authenticated: bool = True) -> dict:
    """OpenAPI responses listing every error code an endpoint can answer, grouped by status."""
    validation = 400 if dialect == "webuddy" else 422
    by_status: dict[int, list[str]] = defaultdict(list)
    wanted = list(codes) + ([ErrorCode.NOT_AUTHENTICATED, ErrorCode.PERMISSION_DENIED] if authenticated else [])
    if ErrorCode.MALFORMED_JSON in codes:  # every endpoint with a body reads it under the size limit
        wanted.append(ErrorCode.PAYLOAD_TOO_LARGE)
    for code in wanted:
        status = validation if code in (ErrorCode.VALIDATION_ERROR, ErrorCode.MALFORMED_JSON) else DEFAULT_STATUS[code]
        if code.value not in by_status[status]:
            by_status[status].append(code.value)
    return {
        status: OpenApiResponse(
            ErrorSerializer, description="Error codes: " + ", ".join(f"`{c}`" for c in names)
        )
        for status, names in sorted(by_status.items())
    }


IDEMPOTENCY_ERRORS = (
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    ErrorCode.IDEMPOTENCY_KEY_IN_USE,
    ErrorCode.IDEMPOTENCY_KEY_INVALID,
)


def tmr_errors(*codes: ErrorCode, authenticated: bool = True) -> dict:
    """`error_responses` of the TMR Land dialect (validation errors 422)."""
    return error_responses(*codes, dialect="tmr", authenticated=authenticated)
