"""Two marketplaces of the TMR dialect: one's orders key never reaches the other's webhook endpoints or
events (what tests/tenants/test_isolation.py and tests/events/ leave out)."""
import pytest
from rest_framework.test import APIClient

from wallets.models import Event, WebhookEndpoint
from wallets.services import api_keys
from wallets.tenants import tenant_create

pytestmark = pytest.mark.django_db

UNKNOWN_ID = "0190a000-0000-7000-8000-000000000000"


@pytest.fixture
def bazaar():
    """A second TMR-dialect marketplace with its own key, a webhook endpoint and an event."""
    tenant = tenant_create(code="bazaar", name="Bazaar", dialect="tmr", currencies=["USD"])
    _, raw = api_keys.api_key_create(name="bazaar orders", tenant=tenant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    endpoint = client.post("/api/v1/wallet/webhook-endpoints", {"url": "https://bazaar.example.com/hooks"},
                           format="json")
    assert endpoint.status_code == 201, endpoint.content
    event = Event.objects.create(tenant=tenant, type="kyc.submitted", data={}, position=1)
    return {"client": client, "endpoint": endpoint.json()["id"], "event": str(event.pk)}


def test_a_tmr_key_never_reaches_another_tmr_tenants_webhook_endpoints(tmr_key_client, bazaar):
    mine = tmr_key_client.post("/api/v1/wallet/webhook-endpoints", {"url": "https://orders.example.com/hooks"},
                               format="json").json()

    theirs = tmr_key_client.delete(f"/api/v1/wallet/webhook-endpoints/{bazaar['endpoint']}")
    unknown = tmr_key_client.delete(f"/api/v1/wallet/webhook-endpoints/{UNKNOWN_ID}")
    listed = tmr_key_client.get("/api/v1/wallet/webhook-endpoints").json()

    assert (theirs.status_code, theirs.json()) == (unknown.status_code, unknown.json())
    assert (theirs.status_code, theirs.json()["code"]) == (404, "webhook_endpoint_not_found")
    assert WebhookEndpoint.objects.get(pk=bazaar["endpoint"]).status == WebhookEndpoint.Status.ACTIVE
    assert [e["id"] for e in listed["items"]] == [mine["id"]]
    theirs_listed = bazaar["client"].get("/api/v1/wallet/webhook-endpoints").json()
    assert [e["id"] for e in theirs_listed["items"]] == [bazaar["endpoint"]]


def test_a_tmr_key_never_reads_another_tmr_tenants_events(tmr_key_client, bazaar):
    own = Event.objects.create(tenant_id="tmr", type="kyc.submitted", data={}, position=2)

    theirs = tmr_key_client.get("/api/v1/wallet/events", {"after": bazaar["event"]})
    unknown = tmr_key_client.get("/api/v1/wallet/events", {"after": UNKNOWN_ID})
    listed = tmr_key_client.get("/api/v1/wallet/events").json()

    assert (theirs.status_code, theirs.json()) == (unknown.status_code, unknown.json())
    assert (theirs.status_code, theirs.json()["code"]) == (404, "event_not_found")
    assert [e["id"] for e in listed["items"]] == [str(own.pk)]
    theirs_listed = bazaar["client"].get("/api/v1/wallet/events").json()
    assert [e["id"] for e in theirs_listed["items"]] == [bazaar["event"]]
