"""OpenAPI additions shared by both dialects: the Idempotency-Key header on every POST and PATCH."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter

from wallets.api.idempotency import HEADER, METHODS

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
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method in METHODS:
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
