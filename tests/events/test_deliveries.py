"""Deliveries to a receiver on this machine: signed, retried with backoff on a non-2xx, a timeout or
a refused connection, given up (and the endpoint disabled) after WEBHOOK_RETRY_HOURS, sent again by
finance. Attempts are made here by calling the job's function; test_workers.py runs real workers."""
import hashlib
import hmac
import ipaddress
import json
import socket
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.events.helpers import as_json
from tests.tmr.helpers import signed_in
from tests.webuddy.helpers import create_user, funded_user
from wallets import events
from wallets.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from wallets.services import accounts

pytestmark = pytest.mark.usefixtures("workers")  # job tables emptied around each test


def endpoint(client, url, path="/v1/webhook-endpoints", **body):
    response = client.post(path, {"url": url, **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def fan_out() -> list[Delivery]:
    while events.events_dispatch():
        pass
    return list(Delivery.objects.select_related("event").order_by("id"))


def attempt(delivery: Delivery) -> str:
    """The delivery's job, run when it is due (a retry's job runs at its scheduled time)."""
    Delivery.objects.filter(pk=delivery.pk, next_attempt_at__gt=timezone.now()).update(next_attempt_at=timezone.now())
    return events.delivery_attempt(delivery_id=delivery.pk)


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does (docs/events.md)."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(timezone.now().timestamp() - int(parts["t"])) < tolerance


def test_a_delivery_is_the_signed_envelope(webuddy_client, receiver):
    hook = endpoint(webuddy_client, receiver.url)
    user = create_user(webuddy_client)
    recharged = webuddy_client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": 125, "paymentMethod": "RAZORPAY"},
                                    format="json").json()

    [delivery] = fan_out()
    assert attempt(delivery) == "delivered"

    [got] = receiver.received
    envelope = json.loads(got["body"])
    assert set(envelope) == {"id", "type", "createdAt", "data"}
    assert envelope["type"] == "recharge.succeeded" and got["headers"]["Wallet-Event-Id"] == envelope["id"]
    assert as_json(got["body"])["data"] == as_json(webuddy_client.get(f"/v1/wallet/recharge/{recharged['id']}").content)
    assert verify(hook["secret"], got["headers"]["Wallet-Signature"], got["body"])
    assert not verify("whsec_another", got["headers"]["Wallet-Signature"], got["body"])
    assert not verify(hook["secret"], got["headers"]["Wallet-Signature"], got["body"].replace(b"125", b"925"))
    assert got["headers"]["Content-Type"] == "application/json"


def test_tmr_envelopes_are_snake_case(tmr_key_client, receiver):
    endpoint(tmr_key_client, receiver.url, path="/api/v1/wallet/webhook-endpoints")
    client, user = signed_in()
    client.post("/api/v1/wallet/kyc", {"full_name": "Li Wei", "id_type": "passport", "id_number": "E12345678"}, format="json")

    [delivery] = fan_out()
    attempt(delivery)
    envelope = receiver.bodies()[0]
    assert set(envelope) == {"id", "type", "created_at", "data"}
    assert envelope["type"] == "kyc.submitted" and envelope["data"]["user_id"] == user["id"]


def test_a_500_then_a_200_delivers_the_event_twice_and_ends_delivered(webuddy_client, receiver, settings):
    hook = endpoint(webuddy_client, receiver.url)
    receiver.plan = [500]
    funded_user(webuddy_client, 10)

    [delivery] = fan_out()
    before = timezone.now()
    assert attempt(delivery) == "pending"
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.last_status_code == 500
    assert delivery.next_attempt_at >= before + timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS)

    assert attempt(delivery) == "delivered"
    first, second = receiver.received
    assert first["headers"]["Wallet-Event-Id"] == second["headers"]["Wallet-Event-Id"]
    assert first["body"] == second["body"]
    assert all(verify(hook["secret"], r["headers"]["Wallet-Signature"], r["body"]) for r in receiver.received)
    log = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("attempted_at").values_list("status_code", "response_body"))
    assert log == [(500, "receiver says no"), (200, "ok")]


def test_the_wait_doubles_after_each_failure(webuddy_client, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    endpoint(webuddy_client, receiver.url)
    receiver.plan = [503, 502, 500]
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()

    waits = []
    for _ in range(3):
        attempt(delivery)
        delivery.refresh_from_db()
        last = DeliveryAttempt.objects.filter(delivery=delivery).latest("attempted_at").attempted_at
        waits.append(round((delivery.next_attempt_at - last).total_seconds() / 30))
    assert waits == [1, 2, 4]


def test_a_timeout_is_a_failed_attempt(webuddy_client, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    endpoint(webuddy_client, receiver.url)
    receiver.plan = ["hang"]
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()

    assert attempt(delivery) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_status_code is None and "Timeout" in delivery.last_error


def test_a_refused_connection_is_a_failed_attempt(webuddy_client):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint(webuddy_client, f"http://127.0.0.1:{port}/hooks")
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()

    assert attempt(delivery) == "pending"
    delivery.refresh_from_db()
    assert "ConnectionError" in delivery.last_error


def test_redirects_are_not_followed(webuddy_client, receiver):
    endpoint(webuddy_client, receiver.url)
    receiver.plan = [302]
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()
    assert attempt(delivery) == "pending"


def test_a_private_address_is_refused_at_delivery_time_too(webuddy_client, receiver, settings):
    endpoint(webuddy_client, receiver.url)  # allowed when made
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()

    settings.WEBHOOK_ALLOW_PRIVATE = False
    assert attempt(delivery) == "pending"
    delivery.refresh_from_db()
    assert "private" in delivery.last_error and receiver.received == []


def test_after_the_retry_window_the_delivery_fails_and_the_endpoint_is_disabled(webuddy_client, receiver, settings):
    hook = endpoint(webuddy_client, receiver.url)
    receiver.plan = [500, 500]
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()
    attempt(delivery)
    Delivery.objects.filter(pk=delivery.pk).update(retrying_since=timezone.now() - timedelta(hours=settings.WEBHOOK_RETRY_HOURS))

    assert attempt(delivery) == "failed"
    endpoint_row = WebhookEndpoint.objects.get(pk=hook["id"])
    assert endpoint_row.status == "disabled" and "500" in endpoint_row.disabled_reason
    assert webuddy_client.get("/v1/webhook-endpoints").json()["items"][0]["status"] == "disabled"

    # A disabled endpoint gets nothing new.
    funded_user(webuddy_client, 10)
    assert len(fan_out()) == 1

    # Finance enables it once the receiver is fixed, and sends the failed delivery again.
    events.endpoint_enable(endpoint=endpoint_row)
    events.delivery_send_again(delivery=delivery)
    assert attempt(delivery) == "delivered"
    assert len(receiver.received) == 3


def test_a_new_endpoint_receives_only_events_made_after_it(webuddy_client, receiver):
    funded_user(webuddy_client, 10)
    fan_out()
    endpoint(webuddy_client, receiver.url)
    user = create_user(webuddy_client)
    accounts.wallet_suspend(wallet=user_wallet(user))

    deliveries = fan_out()
    assert [d.event.type for d in deliveries] == ["wallet.suspended"]


def test_an_endpoint_gets_only_the_types_it_asked_for(webuddy_client, receiver):
    endpoint(webuddy_client, receiver.url, events=["wallet.suspended"])
    user = funded_user(webuddy_client, 10)
    accounts.wallet_suspend(wallet=user_wallet(user))
    assert [d.event.type for d in fan_out()] == ["wallet.suspended"]


def test_events_go_only_to_their_own_tenants_endpoints(webuddy_client, tmr_key_client, receiver):
    endpoint(tmr_key_client, receiver.url, path="/api/v1/wallet/webhook-endpoints")
    funded_user(webuddy_client, 10)  # a WeBuddy event
    assert fan_out() == []
    assert Event.objects.filter(tenant_id="webuddy").count() == 1


def test_a_deleted_endpoints_pending_delivery_is_not_sent(webuddy_client, receiver):
    hook = endpoint(webuddy_client, receiver.url)
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()
    webuddy_client.delete(f"/v1/webhook-endpoints/{hook['id']}")
    assert attempt(delivery) == "cancelled"
    assert receiver.received == []


def user_wallet(user):
    from wallets.models import Account

    return Account.objects.get(user_id=user["id"])


def test_send_again_starts_a_new_round_of_retries(webuddy_client, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    endpoint(webuddy_client, receiver.url)
    receiver.plan = [500] * 6
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()
    for _ in range(4):
        attempt(delivery)
        delivery.refresh_from_db()
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", next_attempt_at=None)
    delivery.refresh_from_db()

    events.delivery_send_again(delivery=delivery)
    assert attempt(delivery) == "pending"  # failed again, but the new round waits 30 s, not 30 * 2**4
    delivery.refresh_from_db()
    last = DeliveryAttempt.objects.filter(delivery=delivery).latest("attempted_at").attempted_at
    assert round((delivery.next_attempt_at - last).total_seconds() / 30) == 1


def test_a_second_run_of_an_attempt_that_is_not_due_does_nothing(webuddy_client, receiver):
    endpoint(webuddy_client, receiver.url)
    receiver.plan = [500]
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()
    assert attempt(delivery) == "pending"
    # its retry is scheduled; the same job run twice must not send early
    assert events.delivery_attempt(delivery_id=delivery.pk) == "not_due"
    assert len(receiver.received) == 1


def test_a_due_delivery_without_a_job_gets_one_again(webuddy_client, receiver):
    endpoint(webuddy_client, receiver.url)
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()
    with connection.cursor() as cursor:  # its job was lost
        cursor.execute("DELETE FROM procrastinate_jobs WHERE task_name = 'wallets.attempt_delivery'")
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=10))

    assert events.deliveries_due() == 1
    assert events.deliveries_due() == 0  # one job waiting is enough


def test_what_the_receiver_answers_is_kept_even_with_nul_bytes(webuddy_client, receiver):
    endpoint(webuddy_client, receiver.url)
    receiver.plan = [(500, b"bad\x00news" + b"x" * 5000)]
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()
    assert attempt(delivery) == "pending"
    kept = DeliveryAttempt.objects.get(delivery=delivery).response_body
    assert kept.startswith("badnews") and len(kept) <= 1000


def test_an_attempt_goes_to_the_address_that_was_vetted(webuddy_client, receiver, monkeypatch):
    """The name is resolved once per attempt and the connection made to that address (the Host
    header keeps the name), so a name that resolves elsewhere between check and connect changes nothing."""
    port = receiver.server.server_port
    endpoint(webuddy_client, f"http://hooks.wallet-test.invalid:{port}/in")
    monkeypatch.setattr(events.endpoints, "_resolve", lambda host, port: [ipaddress.ip_address("127.0.0.1")])
    funded_user(webuddy_client, 10)
    [delivery] = fan_out()

    assert attempt(delivery) == "delivered"
    assert receiver.received[0]["headers"]["Host"] == f"hooks.wallet-test.invalid:{port}"
    assert receiver.received[0]["path"] == "/in"



def _jobs_waiting_for(delivery_id) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE queueing_lock = %s AND status = 'todo'",
                       [f"delivery:{delivery_id}"])
        return cursor.fetchone()[0]


def _pending_delivery_without_a_job(client, receiver) -> Delivery:
    endpoint(client, receiver.url)
    funded_user(client, 10)
    [delivery] = fan_out()
    with connection.cursor() as cursor:  # as if its job were lost
        cursor.execute("DELETE FROM procrastinate_jobs WHERE queueing_lock = %s", [f"delivery:{delivery.pk}"])
    assert _jobs_waiting_for(delivery.pk) == 0
    return delivery


def test_a_run_that_is_not_due_leaves_the_delivery_a_job(webuddy_client, receiver):
    delivery = _pending_delivery_without_a_job(webuddy_client, receiver)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))

    assert events.delivery_attempt(delivery_id=delivery.pk) == "not_due"
    assert _jobs_waiting_for(delivery.pk) == 1
    assert events.delivery_attempt(delivery_id=delivery.pk) == "not_due"
    assert _jobs_waiting_for(delivery.pk) == 1  # never a second one
    assert receiver.received == []


def test_a_run_overtaken_by_another_leaves_the_delivery_a_job(webuddy_client, receiver, monkeypatch):
    """Two runs of one delivery's job (one retried from a stalled worker): the one that finishes second
    sees the other's attempt and records none, but the delivery, still pending, keeps a job."""
    from django.db.models import F

    from wallets.events import deliveries

    delivery = _pending_delivery_without_a_job(webuddy_client, receiver)

    def overtaken(target, body, headers):
        # The other run attempts (and fails) while this one is posting.
        Delivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
        return 500, "busy"

    monkeypatch.setattr(deliveries, "_post", overtaken)
    assert events.delivery_attempt(delivery_id=delivery.pk) == Delivery.Status.PENDING
    assert _jobs_waiting_for(delivery.pk) == 1
    assert not DeliveryAttempt.objects.filter(delivery=delivery).exists()  # the other run records its own
