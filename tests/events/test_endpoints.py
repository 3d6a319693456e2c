"""Webhook endpoints in both dialects: made with a secret shown once, listed, deleted; a bad URL, a
refused address or an event type of another API is a validation error of its field."""
import pytest

from tests.webuddy.helpers import create_user
from wallets.events import DIALECT_EVENT_TYPES
from wallets.models import Delivery, Event, Tenant, WebhookEndpoint

pytestmark = pytest.mark.django_db

WEBUDDY, TMR = "/v1/webhook-endpoints", "/api/v1/wallet/webhook-endpoints"


def test_webuddy_create_list_delete(webuddy_client):
    made = webuddy_client.post(WEBUDDY, {"url": "https://hooks.example.com/wallet", "events": ["payout.paid", "recharge.succeeded"]},
                               format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert set(body) == {"id", "url", "events", "status", "createdAt", "secret"}
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    assert body["events"] == ["payout.paid", "recharge.succeeded"] and body["status"] == "active"
    assert body["secret"] not in WebhookEndpoint.objects.get(pk=body["id"]).secret_encrypted

    listed = webuddy_client.get(WEBUDDY).json()
    assert listed == {"items": [{k: v for k, v in body.items() if k != "secret"}]}

    assert webuddy_client.delete(f"{WEBUDDY}/{body['id']}").status_code == 204
    assert webuddy_client.get(WEBUDDY).json() == {"items": []}
    again = webuddy_client.delete(f"{WEBUDDY}/{body['id']}")
    assert (again.status_code, again.json()["code"]) == (404, "webhook_endpoint_not_found")


def test_tmr_create_list_delete_in_snake_case(tmr_key_client):
    made = tmr_key_client.post(TMR, {"url": "https://orders.example.com/hooks"}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert set(body) == {"id", "url", "events", "status", "created_at", "secret"}
    assert body["events"] == []  # every type of this API
    assert tmr_key_client.get(TMR).json()["items"][0]["created_at"] == body["created_at"]
    assert tmr_key_client.delete(f"{TMR}/{body['id']}").status_code == 204


def test_endpoints_belong_to_the_tenant_of_the_key(webuddy_client, tmr_key_client):
    mine = webuddy_client.post(WEBUDDY, {"url": "https://a.example.com/"}, format="json").json()
    theirs = tmr_key_client.post(TMR, {"url": "https://b.example.com/"}, format="json").json()

    assert [e["id"] for e in webuddy_client.get(WEBUDDY).json()["items"]] == [mine["id"]]
    assert [e["id"] for e in tmr_key_client.get(TMR).json()["items"]] == [theirs["id"]]
    for client, url, other in ((webuddy_client, WEBUDDY, theirs), (tmr_key_client, TMR, mine)):
        response = client.delete(f"{url}/{other['id']}")
        assert (response.status_code, response.json()["code"]) == (404, "webhook_endpoint_not_found")
    assert WebhookEndpoint.objects.get(pk=theirs["id"]).tenant_id == "tmr"
    # A key of one dialect cannot use the other's paths.
    assert webuddy_client.get(TMR).status_code == 403 and tmr_key_client.get(WEBUDDY).status_code == 403


@pytest.mark.parametrize("events", [["kyc.verified"], ["payout.paid", "nope"], "payout.paid", [1], [None], {"a": 1}, "", {},
                                    False, 0])
def test_unknown_or_other_apis_event_types_are_400(webuddy_client, events):
    response = webuddy_client.post(WEBUDDY, {"url": "https://a.example.com/", "events": events}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert list(response.json()["fields"]) == ["events"]


def test_tmr_refuses_webuddy_types_with_422(tmr_key_client):
    response = tmr_key_client.post(TMR, {"url": "https://a.example.com/", "events": ["recharge.succeeded"]}, format="json")
    assert (response.status_code, response.json()["code"], list(response.json()["fields"])) == (422, "validation_error", ["events"])
    assert tmr_key_client.post(TMR, {"url": "https://a.example.com/", "events": DIALECT_EVENT_TYPES[Tenant.Dialect.TMR]},
                               format="json").status_code == 201


@pytest.mark.parametrize("url", [
    None, 42, "", "hooks.example.com/x", "ftp://example.com/x", "https://", "https://user:pw@example.com/x",
    "https://exa mple.com/x", "https://example.com:99999/x", "https://bücher.example/x", "https://a.example.com/" + "x" * 600,
    "https://[::1/", "https://[abc]/", "https://exa]mple.com/", "https://example.com\u0000x/", "https://exa\x7fmple.com/",
    "https://example.com/\tx", ["https://a.example.com/"], {"url": "https://a.example.com/"},
])
def test_bad_urls_are_400(webuddy_client, url):
    response = webuddy_client.post(WEBUDDY, {"url": url}, format="json")
    assert (response.status_code, response.json()["code"], list(response.json()["fields"])) == (400, "validation_error", ["url"])


def test_a_missing_url_is_400(webuddy_client, tmr_key_client):
    response = webuddy_client.post(WEBUDDY, {"events": []}, format="json")
    assert (response.status_code, list(response.json()["fields"])) == (400, ["url"])
    response = tmr_key_client.post(TMR, {}, format="json")
    assert (response.status_code, list(response.json()["fields"])) == (422, ["url"])


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/x", "https://localhost/x", "https://10.1.2.3/x", "https://192.168.0.10/x", "https://172.16.5.4/x",
    "https://169.254.169.254/latest/meta-data", "https://[::1]/x", "https://[fe80::1]/x", "https://0.0.0.0/x",
    "https://100.64.0.1/x", "https://[::ffff:127.0.0.1]/x", "https://[64:ff9b::7f00:1]/x", "https://[2002:7f00:1::]/x",
    "https://[::127.0.0.1]/x", "https://[::ffff:a9fe:a9fe]/x",
])
def test_private_loopback_and_link_local_addresses_are_refused(webuddy_client, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = webuddy_client.post(WEBUDDY, {"url": url}, format="json")
    assert (response.status_code, list(response.json()["fields"])) == (400, ["url"]), response.content


def test_http_needs_webhook_allow_http(webuddy_client, settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    refused = webuddy_client.post(WEBUDDY, {"url": "http://hooks.example.com/x"}, format="json")
    assert (refused.status_code, list(refused.json()["fields"])) == (400, ["url"])
    settings.WEBHOOK_ALLOW_HTTP = True
    assert webuddy_client.post(WEBUDDY, {"url": "http://hooks.example.com/x"}, format="json").status_code == 201


def test_deleting_an_endpoint_cancels_its_pending_deliveries(webuddy_client):
    endpoint = webuddy_client.post(WEBUDDY, {"url": "https://a.example.com/"}, format="json").json()
    create_user(webuddy_client)
    tenant = Tenant.objects.get(code="webuddy")
    event = Event.objects.create(tenant=tenant, type="wallet.suspended", data={}, position=1)
    Delivery.objects.create(event=event, endpoint_id=endpoint["id"])

    webuddy_client.delete(f"{WEBUDDY}/{endpoint['id']}")
    assert set(Delivery.objects.filter(endpoint_id=endpoint["id"]).values_list("status", flat=True)) == {"cancelled"}


def test_a_tenant_keeps_at_most_20_endpoints(webuddy_client):
    for n in range(20):
        assert webuddy_client.post(WEBUDDY, {"url": f"https://a.example.com/{n}"}, format="json").status_code == 201
    refused = webuddy_client.post(WEBUDDY, {"url": "https://a.example.com/21"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "limit_reached")
    first = webuddy_client.get(WEBUDDY).json()["items"][0]["id"]
    webuddy_client.delete(f"{WEBUDDY}/{first}")
    assert webuddy_client.post(WEBUDDY, {"url": "https://a.example.com/21"}, format="json").status_code == 201
