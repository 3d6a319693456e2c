"""The read-your-writes rule's parts that need no replica: who a client is, when its write is
remembered, and a cache that is down (tests/stack/ has the rest, on a real replica)."""
import base64
import json
import logging

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import RequestFactory

from wallets import replica


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    cache.clear()
    monkeypatch.setattr(replica._CacheHealth, "down_until", 0.0)
    yield
    cache.clear()


def token(claims: dict) -> str:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{part}.c2ln"


def request(method="GET", auth=None, cookie=None):
    extra = {"HTTP_AUTHORIZATION": auth} if auth is not None else {}
    made = getattr(RequestFactory(), method.lower())("/v1/wallet/history", **extra)
    if cookie:
        made.COOKIES["sessionid"] = cookie
    return made


def test_a_tmr_user_is_the_same_client_whatever_token_they_hold():
    one = replica.client_of(request(auth=f"Bearer {token({'user_id': 'AB-1', 'jti': '1'})}"))
    two = replica.client_of(request(auth=f"bearer  {token({'user_id': 'ab-1', 'jti': '2'})}"))
    other = replica.client_of(request(auth=f"Bearer {token({'user_id': 'ab-2'})}"))
    assert one == two and one.startswith("u:") and other != one


def test_an_api_key_is_a_client_in_any_spelling_of_its_scheme_and_a_session_is_one_too():
    key = replica.client_of(request(auth="Api-Key wk_abc"))
    assert key == replica.client_of(request(auth="api-key  wk_abc ")) and key.startswith("c:")
    assert key != replica.client_of(request(auth="Api-Key wk_abd"))
    assert replica.client_of(request(cookie="s3ss10n")).startswith("s:")
    assert replica.client_of(request()) is None
    # A token that is not one, or has no user: the header itself is the client.
    assert replica.client_of(request(auth="Bearer not.a.token")).startswith("c:")
    assert replica.client_of(request(auth=f"Bearer {token(['user_id'])}")).startswith("c:")


@pytest.mark.parametrize(("status", "remembered"), [(201, True), (200, True), (400, False), (401, False), (500, False)])
def test_only_a_write_that_was_answered_below_400_is_remembered(monkeypatch, settings, status, remembered):
    monkeypatch.setattr(replica, "configured", lambda: True)
    seen = []

    def view(req):
        seen.append(replica._pinned.get())
        return HttpResponse(status=status)

    middleware = replica.ReadYourWritesMiddleware(view)
    middleware(request("POST", auth="Api-Key wk_abc"))
    assert seen == [True], "a write is pinned to the primary while it runs"
    client = replica.client_of(request(auth="Api-Key wk_abc"))
    assert replica.wrote_recently(client) is remembered
    middleware(request("GET", auth="Api-Key wk_abc"))
    assert seen[-1] is remembered, "its next read goes to the primary if, and only if, it wrote"
    middleware(request("GET", auth="Api-Key wk_other"))
    assert seen[-1] is False


def test_a_cache_that_is_down_pins_every_client_and_is_left_alone_for_a_while(monkeypatch, caplog):
    calls = []

    def down(*args, **kwargs):
        calls.append(args)
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    with caplog.at_level(logging.WARNING, logger="wallet.replica"):
        assert replica.wrote_recently("c:x") is True
        assert replica.wrote_recently("c:y") is True
        replica.remember_write("c:x")
    assert len(calls) == 1, "asked once, then left alone"
    assert [r.getMessage() for r in caplog.records if "cache unavailable" in r.getMessage()]


def test_without_a_replica_every_read_is_the_primarys_and_the_middleware_is_not_in_the_chain():
    from django.core.exceptions import MiddlewareNotUsed

    with replica.may_lag():
        assert replica.read_alias() == "default"
    with pytest.raises(MiddlewareNotUsed):
        replica.ReadYourWritesMiddleware(lambda r: HttpResponse())


@pytest.mark.parametrize("payload", [
    "[" * 5000 + "]" * 5000,  # deep nesting
    '{"user_id": "\\ud800"}',  # a lone surrogate
    '{"user_id": "' + "x" * 5000 + '"}',  # far longer than a token of ours
    "not json at all",
])
def test_a_hostile_bearer_token_is_only_a_header_to_route_by(payload):
    part = base64.urlsafe_b64encode(payload.encode("utf-8", "surrogatepass")).rstrip(b"=").decode()
    client = replica.client_of(request(auth=f"Bearer eyJ.{part}.c2ln"))
    assert client is not None and client[:2] in ("u:", "c:")
