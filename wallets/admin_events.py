"""Back-office screens of events for client backends: what was written, where it goes, how each
delivery went (sent again by a reasoned action), and balance monitors."""

from django.contrib import admin

from wallets import events
from wallets.backoffice import NoWrites, ReadOnlyAdmin, reasoned_action
from wallets.models import BalanceMonitor, Delivery, DeliveryAttempt, Event, WebhookEndpoint


# Events for client backends: what was written, where it goes, and how each delivery went.


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "tenant", "type", "id", "position", "dispatched")
    list_filter = ("tenant", "type", "dispatched", "created_at")
    search_fields = ("=id",)
    date_hierarchy = "created_at"
    fields = ("id", "tenant", "type", "created_at", "position", "dispatched", "data")
    readonly_fields = fields


def _enable(request, endpoint, reason):
    return events.endpoint_enable(endpoint=endpoint)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    """Clients' endpoints. One whose deliveries kept failing is `disabled`: finance sees why and can
    enable it again once the client has fixed its receiver. The secret is never shown."""

    list_display = ("url", "tenant", "status", "disabled_reason", "subscribed", "created_at", "updated_at")
    list_filter = ("status", "tenant")
    search_fields = ("url", "=id")
    fields = ("id", "tenant", "url", "subscribed", "status", "disabled_reason", "created_at", "updated_at")
    readonly_fields = fields
    actions = ("enable_endpoints",)

    enable_endpoints = reasoned_action(
        description="Enable selected endpoints again", permission="enable", apply=_enable, done="Enabled",
        describe=lambda endpoint: endpoint.url,
    )

    def has_enable_permission(self, request):
        return request.user.has_perm("wallets.enable_webhookendpoint")

    @admin.display(description="events")
    def subscribed(self, endpoint):
        return ", ".join(endpoint.events) or "all of the tenant's"


class DeliveryAttemptInline(NoWrites, admin.TabularInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "status_code", "duration_ms", "error", "response_body")
    readonly_fields = fields
    ordering = ("attempted_at",)
    extra = 0


def _send_again(request, delivery, reason):
    return events.delivery_send_again(delivery=delivery)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Each event to each endpoint: its attempts with the receiver's answers; "send again" for one
    that failed or was cancelled."""

    list_display = ("id", "event_type", "endpoint", "status", "attempts", "last_status_code", "last_error",
                    "next_attempt_at", "delivered_at", "created_at")
    list_filter = ("status", "endpoint__tenant", "event__type", "created_at")
    search_fields = ("=event__id", "endpoint__url")
    list_select_related = ("event", "endpoint")
    fields = ("id", "event", "endpoint", "status", "attempts", "last_status_code", "last_error", "next_attempt_at",
              "delivered_at", "created_at", "retrying_since")
    readonly_fields = fields
    inlines = (DeliveryAttemptInline,)
    actions = ("send_again",)

    send_again = reasoned_action(
        description="Send selected deliveries again", permission="resend", apply=_send_again, done="Sent again",
        reason_required=False,
    )

    def has_resend_permission(self, request):
        return request.user.has_perm("wallets.resend_delivery")

    @admin.display(description="event", ordering="event__type")
    def event_type(self, delivery):
        return delivery.event.type


@admin.register(BalanceMonitor)
class BalanceMonitorAdmin(ReadOnlyAdmin):
    list_display = ("id", "tenant", "account", "below", "armed", "created_at")
    list_filter = ("tenant", "armed")
    list_select_related = ("account",)
