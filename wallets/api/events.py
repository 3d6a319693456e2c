"""Events for client backends, in both dialects: webhook endpoints (`/v1/webhook-endpoints`,
`/api/v1/wallet/webhook-endpoints`), the catch-up list (`/v1/events`, `/api/v1/wallet/events`), and
WeBuddy's low-balance monitors (`/v1/wallet/monitors`). A key sees and makes only its tenant's."""
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from wallets import events, replica, selectors
from wallets.events import monitors
from wallets.api.auth import request_tenant
from wallets.api.base import TmrKeyView, WebuddyView
from wallets.api.fields import AmountField, InputSerializer, QueryIntegerField, QuerySerializer
from wallets.api.schema import IDEMPOTENCY_ERRORS, error_responses
from wallets.errors import ErrorCode as E
from wallets.models import WebhookEndpoint
from wallets.validation import parse_id

WEBUDDY_TAGS = ["WeBuddy: events"]
TMR_TAGS = ["TMR Land: events (orders service)"]


class EndpointIn(InputSerializer):
    url = serializers.JSONField(help_text="https (http only where WEBHOOK_ALLOW_HTTP=1), on a public address.")
    events = serializers.JSONField(
        required=False, default=None,
        help_text="Event types of this API to receive; missing or empty: all of them.",
    )


def _endpoint_fields(created: str):
    return {
        "id": serializers.UUIDField(),
        "url": serializers.CharField(),
        "events": serializers.ListField(child=serializers.CharField(), help_text="Empty: every type."),
        "status": serializers.CharField(help_text="`active`, or `disabled` once its deliveries kept failing."),
        created: serializers.DateTimeField(),
    }


class _EndpointsBase:
    """Shared by both dialects; `created` names the creation time as the dialect does."""

    created = "createdAt"
    has_more = "hasMore"

    def render_endpoint(self, endpoint: WebhookEndpoint, secret: str | None = None) -> dict:
        body = {
            "id": str(endpoint.id), "url": endpoint.url, "events": list(endpoint.events), "status": endpoint.status,
            self.created: serializers.DateTimeField().to_representation(endpoint.created_at),
        }
        if secret is not None:
            body["secret"] = secret
        return body

    def endpoint_post(self, request):
        data = EndpointIn(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = events.endpoint_create(
            tenant=request_tenant(request), url=data.validated_data["url"], events=data.validated_data["events"],
        )
        return Response(self.render_endpoint(endpoint, secret), status=status.HTTP_201_CREATED)

    def endpoint_list(self, request):
        return Response({"items": [self.render_endpoint(e) for e in events.endpoints_of(tenant=request_tenant(request))]})

    def endpoint_delete(self, request, endpoint_id):
        events.endpoint_delete(endpoint=events.endpoint_find(tenant=request_tenant(request), endpoint_id=endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @replica.lag_allowed
    def events_list(self, request):
        query = EventsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        found, more = events.events_after(
            tenant=request_tenant(request), after=query.validated_data.get("after"), limit=query.validated_data["limit"],
        )
        return Response({"items": [events.envelope(e) for e in found], self.has_more: more})


class EventsQuery(QuerySerializer):
    after = serializers.CharField(required=False, help_text="An event id: the events after it (else from the oldest kept).")
    limit = QueryIntegerField(required=False, default=20, min_value=1, max_value=100)


WebuddyEndpointOut = inline_serializer("WebuddyWebhookEndpoint", _endpoint_fields("createdAt"))
WebuddyEndpointCreatedOut = inline_serializer(
    "WebuddyWebhookEndpointCreated",
    {**_endpoint_fields("createdAt"), "secret": serializers.CharField(help_text="Shown this once: the signing secret.")},
)
TmrEndpointOut = inline_serializer("TmrWebhookEndpoint", _endpoint_fields("created_at"))
TmrEndpointCreatedOut = inline_serializer(
    "TmrWebhookEndpointCreated",
    {**_endpoint_fields("created_at"), "secret": serializers.CharField(help_text="Shown this once: the signing secret.")},
)


def _envelope_out(name: str, created: str, more: str):
    item = inline_serializer(f"{name}Event", {
        "id": serializers.UUIDField(), "type": serializers.CharField(), created: serializers.DateTimeField(),
        "data": serializers.JSONField(help_text="The object as this API's own GET renders it."),
    })
    return inline_serializer(f"{name}Events", {"items": serializers.ListField(child=item), more: serializers.BooleanField()})


ENDPOINT_ERRORS = (E.VALIDATION_ERROR, E.MALFORMED_JSON, E.LIMIT_REACHED, *IDEMPOTENCY_ERRORS)


class WebuddyEndpointsView(_EndpointsBase, WebuddyView):
    response_has_secret = True  # its idempotent replay is stored encrypted

    @extend_schema(
        tags=WEBUDDY_TAGS, summary="Receive events at a URL (the signing secret is shown once)", request=EndpointIn,
        responses={201: WebuddyEndpointCreatedOut, **error_responses(*ENDPOINT_ERRORS, dialect="webuddy")},
    )
    def post(self, request):
        return self.endpoint_post(request)

    @extend_schema(tags=WEBUDDY_TAGS, summary="This API's webhook endpoints",
                   responses={200: inline_serializer("WebuddyWebhookEndpoints", {"items": serializers.ListField(child=WebuddyEndpointOut)}),
                              **error_responses(dialect="webuddy")})
    def get(self, request):
        return self.endpoint_list(request)


class WebuddyEndpointDetailView(_EndpointsBase, WebuddyView):
    @extend_schema(tags=WEBUDDY_TAGS, summary="Stop receiving events at an endpoint (its pending deliveries are cancelled)",
                   responses={204: None, **error_responses(E.WEBHOOK_ENDPOINT_NOT_FOUND, dialect="webuddy")})
    def delete(self, request, endpoint_id):
        return self.endpoint_delete(request, endpoint_id)


class WebuddyEventsView(_EndpointsBase, WebuddyView):
    @extend_schema(
        tags=WEBUDDY_TAGS, summary="Events after a given one, oldest first (catching up without webhooks)",
        parameters=[EventsQuery],
        responses={200: _envelope_out("Webuddy", "createdAt", "hasMore"),
                   **error_responses(E.VALIDATION_ERROR, E.EVENT_NOT_FOUND, dialect="webuddy")},
    )
    def get(self, request):
        return self.events_list(request)


class TmrEndpointsView(_EndpointsBase, TmrKeyView):
    response_has_secret = True  # its idempotent replay is stored encrypted
    created = "created_at"
    has_more = "has_more"

    @extend_schema(
        tags=TMR_TAGS, summary="Receive events at a URL (the signing secret is shown once)", request=EndpointIn,
        responses={201: TmrEndpointCreatedOut, **error_responses(*ENDPOINT_ERRORS, dialect="tmr")},
    )
    def post(self, request):
        return self.endpoint_post(request)

    @extend_schema(tags=TMR_TAGS, summary="This API's webhook endpoints",
                   responses={200: inline_serializer("TmrWebhookEndpoints", {"items": serializers.ListField(child=TmrEndpointOut)}),
                              **error_responses(dialect="tmr")})
    def get(self, request):
        return self.endpoint_list(request)


class TmrEndpointDetailView(_EndpointsBase, TmrKeyView):
    created = "created_at"

    @extend_schema(tags=TMR_TAGS, summary="Stop receiving events at an endpoint (its pending deliveries are cancelled)",
                   responses={204: None, **error_responses(E.WEBHOOK_ENDPOINT_NOT_FOUND, dialect="tmr")})
    def delete(self, request, endpoint_id):
        return self.endpoint_delete(request, endpoint_id)


class TmrEventsView(_EndpointsBase, TmrKeyView):
    created = "created_at"
    has_more = "has_more"

    @extend_schema(
        tags=TMR_TAGS, summary="Events after a given one, oldest first (catching up without webhooks)",
        parameters=[EventsQuery],
        responses={200: _envelope_out("Tmr", "created_at", "has_more"),
                   **error_responses(E.VALIDATION_ERROR, E.EVENT_NOT_FOUND, dialect="tmr")},
    )
    def get(self, request):
        return self.events_list(request)


# Low-balance monitors (WeBuddy)


class MonitorIn(InputSerializer):
    userId = serializers.CharField()
    below = AmountField(help_text="Zero or more; `wallet.balance_low` when the available balance crosses below it.")


class MonitorOut(serializers.Serializer):
    id = serializers.UUIDField()
    userId = serializers.UUIDField(source="account.user_id")
    below = AmountField(currency_source="currency")
    currency = serializers.CharField(source="account.currency")
    createdAt = serializers.DateTimeField(source="created_at")

    def to_representation(self, instance):
        instance.currency = instance.account.currency
        return super().to_representation(instance)


class MonitorsQuery(QuerySerializer):
    userId = serializers.CharField(required=False)


class MonitorsView(WebuddyView):
    @extend_schema(
        tags=WEBUDDY_TAGS, summary="Watch a wallet's available balance (fires at once if already below)",
        request=MonitorIn,
        responses={201: MonitorOut, **error_responses(E.VALIDATION_ERROR, E.MALFORMED_JSON, E.USER_NOT_FOUND, E.LIMIT_REACHED,
                                                      *IDEMPOTENCY_ERRORS, dialect="webuddy")},
    )
    def post(self, request):
        data = MonitorIn(data=request.data)
        data.is_valid(raise_exception=True)
        wallet = selectors.webuddy_wallet(
            tenant=request_tenant(request), user_id=parse_id(data.validated_data["userId"], E.USER_NOT_FOUND, "No such user."),
        )
        monitor = monitors.monitor_create(wallet=wallet, below=data.validated_data["below"])
        return Response(MonitorOut(monitor).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=WEBUDDY_TAGS, summary="Low-balance monitors (of one user, with userId)", parameters=[MonitorsQuery],
        responses={200: inline_serializer("Monitors", {"items": MonitorOut(many=True)}),
                   **error_responses(E.VALIDATION_ERROR, E.USER_NOT_FOUND, dialect="webuddy")},
    )
    def get(self, request):
        query = MonitorsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        tenant = request_tenant(request)
        user_id = query.validated_data.get("userId")
        if user_id is not None:
            user_id = selectors.user_find(tenant=tenant, user_id=user_id).pk
        return Response({"items": MonitorOut(monitors.monitors_of(tenant=tenant, user_id=user_id), many=True).data})


class MonitorDetailView(WebuddyView):
    @extend_schema(tags=WEBUDDY_TAGS, summary="Stop watching",
                   responses={204: None, **error_responses(E.MONITOR_NOT_FOUND, dialect="webuddy")})
    def delete(self, request, monitor_id):
        monitors.monitor_delete(monitor=monitors.monitor_find(tenant=request_tenant(request), monitor_id=monitor_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

