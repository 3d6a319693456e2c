"""Catching up without webhooks: `GET /v1/events` and `GET /api/v1/wallet/events`, oldest first after
a cursor, in commit order, each key seeing only its own tenant's events."""
import threading
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from tests.tmr.helpers import signed_in
from tests.webuddy.helpers import create_user, funded_user
from wallets import events
from wallets.models import Account, Event, Tenant
from wallets.services import accounts

pytestmark = pytest.mark.usefixtures("workers")


def page(client, path="/v1/events", **query):
    response = client.get(path, query)
    assert response.status_code == 200, response.content
    return response.json()


def suspend_and_reactivate(user_id, times=1):
    wallet = Account.objects.get(user_id=user_id)
    for _ in range(times):
        accounts.wallet_suspend(wallet=wallet)
        accounts.wallet_reactivate(wallet=wallet)


def test_a_consumer_pages_through_everything_in_order(webuddy_client):
    user = funded_user(webuddy_client, 10)
    suspend_and_reactivate(user["id"], times=12)  # 1 recharge + 24 wallet events

    first = page(webuddy_client, limit=10)
    assert set(first) == {"items", "hasMore"} and first["hasMore"] is True and len(first["items"]) == 10
    assert set(first["items"][0]) == {"id", "type", "createdAt", "data"}
    seen = first["items"]
    while True:
        following = page(webuddy_client, after=seen[-1]["id"], limit=10)
        seen += following["items"]
        if not following["hasMore"]:
            break
    assert len(seen) == 25 and len({e["id"] for e in seen}) == 25
    assert [e["type"] for e in seen[:3]] == ["recharge.succeeded", "wallet.suspended", "wallet.reactivated"]
    assert page(webuddy_client, after=seen[-1]["id"]) == {"items": [], "hasMore": False}


def test_default_limit_is_20_and_at_most_100(webuddy_client, tmr_key_client):
    user = create_user(webuddy_client)
    suspend_and_reactivate(user["id"], times=11)
    assert len(page(webuddy_client)["items"]) == 20
    assert len(page(webuddy_client, limit=100)["items"]) == 22
    for bad in (101, 0, -1, "x", "1e2", "٣"):
        response = webuddy_client.get("/v1/events", {"limit": bad})
        assert (response.status_code, response.json()["code"], list(response.json()["fields"])) == (400, "validation_error", ["limit"])
    response = tmr_key_client.get("/api/v1/wallet/events", {"limit": 101})
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")


def test_an_unknown_cursor_is_404(webuddy_client, tmr_key_client):
    client, user = signed_in()
    client.post("/api/v1/wallet/kyc", {"full_name": "Li Wei", "id_type": "passport", "id_number": "E12345678"}, format="json")
    tmr_event = page(tmr_key_client, "/api/v1/wallet/events")["items"][0]["id"]
    for after in ("00000000-0000-0000-0000-000000000000", "nope", tmr_event):  # another tenant's event too
        response = webuddy_client.get("/v1/events", {"after": after})
        assert (response.status_code, response.json()["code"]) == (404, "event_not_found")


def test_each_key_sees_only_its_tenants_events_in_its_dialect(webuddy_client, tmr_key_client):
    funded_user(webuddy_client, 10)
    client, user = signed_in()
    client.post("/api/v1/wallet/kyc", {"full_name": "Li Wei", "id_type": "passport", "id_number": "E12345678"}, format="json")

    webuddy = page(webuddy_client)
    tmr = page(tmr_key_client, "/api/v1/wallet/events")
    assert [e["type"] for e in webuddy["items"]] == ["recharge.succeeded"]
    assert [e["type"] for e in tmr["items"]] == ["kyc.submitted"]
    assert set(tmr) == {"items", "has_more"} and set(tmr["items"][0]) == {"id", "type", "created_at", "data"}


def test_events_past_the_retention_are_purged_and_not_listed(webuddy_client, settings):
    user = create_user(webuddy_client)
    suspend_and_reactivate(user["id"])
    old = Event.objects.order_by("created_at").first()
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS + 1))
    assert events.events_purge() == 1
    assert [e["type"] for e in page(webuddy_client)["items"]] == ["wallet.reactivated"]


def test_an_event_committed_later_is_never_skipped_by_a_reader_paging_by_cursor(webuddy_client):
    """Transaction A writes an event and stays open; B writes one and commits. A reader must not be
    given B's event before A's is settled, or its cursor would pass A's event for good."""
    tenant = Tenant.objects.get(code="webuddy")
    s = connection.settings_dict
    dsn = f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} user={s['USER'] or 'postgres'} dbname={s['NAME']}"
    a_written, a_may_commit = threading.Event(), threading.Event()

    def transaction_a():
        with psycopg.connect(dsn) as other:
            with other.transaction():
                other.execute(
                    "INSERT INTO wallets_event (id, tenant_id, type, data, created_at, dispatched) "
                    "VALUES (gen_random_uuid(), %s, 'wallet.suspended', '{}', now(), false)", [tenant.pk],
                )
                a_written.set()
                a_may_commit.wait(30)

    a = threading.Thread(target=transaction_a)
    a.start()
    try:
        assert a_written.wait(30)
        Event.objects.create(tenant=tenant, type="wallet.reactivated", data={})  # B, committed at once
        assert page(webuddy_client)["items"] == []  # B waits for A
    finally:
        a_may_commit.set()
        a.join(30)
    assert [e["type"] for e in page(webuddy_client)["items"]] == ["wallet.suspended", "wallet.reactivated"]
