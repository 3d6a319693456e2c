"""Events in the back office: endpoints (a disabled one and why), deliveries with each attempt and the
receiver's answer, "send again", and enabling an endpoint again. Other staff see none of it."""
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from wallets import events
from wallets.models import Delivery, DeliveryAttempt, Event, Tenant, WebhookEndpoint

pytestmark = pytest.mark.django_db
DELIVERIES = "admin:wallets_delivery_changelist"
ENDPOINTS = "admin:wallets_webhookendpoint_changelist"


def failed_delivery():
    tenant = Tenant.objects.get(code="webuddy")
    endpoint, secret = events.endpoint_create(tenant=tenant, url="https://hooks.example.com/in")
    event = Event.objects.create(tenant=tenant, type="payout.paid", data={"id": "p-1"}, position=1, dispatched=True)
    delivery = Delivery.objects.create(event=event, endpoint=endpoint, status="failed", attempts=1, last_status_code=500)
    DeliveryAttempt.objects.create(delivery=delivery, attempted_at=timezone.now() - timedelta(hours=1), status_code=500,
                                   response_body="upstream exploded", duration_ms=12)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(status="disabled", disabled_reason="deliveries failed for 72 hours")
    return delivery


def test_finance_sees_endpoints_deliveries_and_attempts(finance_client):
    delivery = failed_delivery()

    endpoints = finance_client.get(reverse(ENDPOINTS))
    assert endpoints.status_code == 200 and "deliveries failed for 72 hours" in endpoints.content.decode()
    assert "whsec_" not in endpoints.content.decode()
    listed = finance_client.get(reverse(DELIVERIES), {"status__exact": "failed"})
    assert [d.pk for d in listed.context["cl"].result_list] == [delivery.pk]
    detail = finance_client.get(reverse("admin:wallets_delivery_change", args=[delivery.pk]))
    assert detail.status_code == 200 and "upstream exploded" in detail.content.decode()


def test_send_again_needs_the_endpoint_enabled_first(finance_client, finance_user):
    delivery = failed_delivery()

    refused = finance_client.post(reverse(DELIVERIES), {"action": "send_again", "_selected_action": [delivery.pk],
                                                        "confirm": "yes", "reason": ""}, follow=True)
    assert "enable it first" in refused.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "failed"

    finance_client.post(reverse(ENDPOINTS), {"action": "enable_endpoints", "_selected_action": [delivery.endpoint_id],
                                             "confirm": "yes", "reason": "receiver fixed"})
    assert WebhookEndpoint.objects.get(pk=delivery.endpoint_id).status == "active"
    finance_client.post(reverse(DELIVERIES), {"action": "send_again", "_selected_action": [delivery.pk],
                                              "confirm": "yes", "reason": ""})
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at is not None
    assert LogEntry.objects.filter(user=finance_user, change_message__startswith="Sent again").exists()


def test_other_staff_see_nothing(staff_client):
    failed_delivery()
    assert staff_client.get(reverse(DELIVERIES)).status_code == 403
    assert staff_client.get(reverse(ENDPOINTS)).status_code == 403
