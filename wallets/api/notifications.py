"""`POST /v1/webhooks/razorpay` and `POST /v1/webhooks/stripe`: the providers' signed events.

No API key: the signature over the raw body is the credential, checked before anything of the body
is read. A missing or bad signature is 400 `invalid_signature` and changes nothing. Anything
accepted (applied, a replay, or unknown and recorded for finance) is 200 `{"status": ...}`.
"""
import json

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from wallets.api.base import ApiView
from wallets.api.rendering import PayloadTooLarge, json_object
from wallets.api.schema import error_responses
from wallets.errors import DomainError, ErrorCode
from wallets.gateways.razorpay_live import webhook_signature_valid
from wallets.gateways.stripe_live import verified_event
from wallets.models import GatewayEvent
from wallets.validation import invalid
from wallets.notifications import notification_receive

TAGS = ["WeBuddy: payment provider webhooks"]


class WebhookOut(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[*GatewayEvent.Outcome.values, "replayed"],
        help_text="What was done: applied; a replay of an event already recorded; nothing to change; not ours "
        "(recorded for finance); money of another amount or currency (not credited, recorded for finance); "
        "a second payment of something already paid, or a state the provider contradicts (recorded for finance).",
    )


def _raw_body(request) -> bytes:
    limit = settings.API_MAX_BODY_BYTES
    body = request._request.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return body


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _strict_json(body: bytes):
    """JSON as the standard says it (no NaN or Infinity), each key once in an object."""
    return json.loads(body, parse_constant=_refuse_constant, object_pairs_hook=json_object)


def _event_text(value) -> bool:
    """An event id or type as the providers write them: printable ASCII (the database keeps no NUL)."""
    return isinstance(value, str) and value != "" and value.isascii() and value.isprintable()


def _bad_signature() -> DomainError:
    return DomainError(ErrorCode.INVALID_SIGNATURE, "The webhook's signature is missing or does not match.")


class WebhookView(ApiView):
    authentication_classes: list = []
    permission_classes: list = []
    parser_classes: list = []
    idempotent = False  # the provider's event id makes a delivery count once
    schema_auth: list = []

    def respond(self, received) -> Response:
        return Response({"status": "replayed" if received.replayed else received.event.outcome})


SIGNATURE_ERRORS = error_responses(ErrorCode.INVALID_SIGNATURE, ErrorCode.VALIDATION_ERROR, dialect="webuddy",
                                   authenticated=False)


class RazorpayWebhookView(WebhookView):
    @extend_schema(
        tags=TAGS,
        summary="Razorpay and RazorpayX events (payment.captured, order.paid, payment.failed, payout.*)",
        request=None,
        parameters=[
            OpenApiParameter("X-Razorpay-Signature", str, OpenApiParameter.HEADER, required=True,
                             description="HMAC-SHA256 of the raw body with RAZORPAY_WEBHOOK_SECRET."),
            OpenApiParameter("X-Razorpay-Event-Id", str, OpenApiParameter.HEADER, required=True),
        ],
        responses={200: WebhookOut, **SIGNATURE_ERRORS},
    )
    def post(self, request):
        body = _raw_body(request)
        if not settings.RAZORPAY_WEBHOOK_SECRET or not webhook_signature_valid(
            body=body, signature=request.headers.get("X-Razorpay-Signature")
        ):
            raise _bad_signature()
        event_id = request.headers.get("X-Razorpay-Event-Id", "")
        try:
            event = _strict_json(body)
        except ValueError:
            raise invalid("body", "The event is not JSON.") from None
        if not _event_text(event_id) or not isinstance(event, dict) or not _event_text(event.get("event")):
            raise invalid("X-Razorpay-Event-Id", "A signed event has an id and a type.")
        received = notification_receive(
            provider=GatewayEvent.Provider.RAZORPAY, event_id=event_id, event_type=event["event"], event=event
        )
        return self.respond(received)


class StripeWebhookView(WebhookView):
    @extend_schema(
        tags=TAGS,
        summary="Stripe events (payment_intent.succeeded, payment_intent.payment_failed, transfer.reversed)",
        request=None,
        parameters=[
            OpenApiParameter("Stripe-Signature", str, OpenApiParameter.HEADER, required=True,
                             description="`t=<time>,v1=<HMAC-SHA256 of \"<t>.<body>\">`; 300 s tolerance."),
        ],
        responses={200: WebhookOut, **SIGNATURE_ERRORS},
    )
    def post(self, request):
        body = _raw_body(request)
        verified = settings.STRIPE_WEBHOOK_SECRET and verified_event(
            body=body, signature=request.headers.get("Stripe-Signature")
        )
        if not verified:
            raise _bad_signature()
        try:
            event = _strict_json(body)  # the SDK parsed it already
        except ValueError:
            raise invalid("body", "The event is not JSON.") from None
        if not isinstance(event, dict) or not _event_text(event.get("id")) or not _event_text(event.get("type")):
            raise invalid("id", "A signed event has an id and a type.")
        received = notification_receive(
            provider=GatewayEvent.Provider.STRIPE, event_id=event["id"], event_type=event["type"], event=event
        )
        return self.respond(received)
