"""Login throttling counts failures by the client's address, which comes from X-Forwarded-For only
when the peer is one of TRUSTED_PROXIES; a header any client can send never resets its count."""
import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from wallets.network import client_ip

pytestmark = pytest.mark.django_db


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_a_header_from_an_untrusted_peer_is_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


@pytest.mark.parametrize(
    "forwarded, expected",
    [
        ("198.51.100.1", "198.51.100.1"),
        # The client wrote the first entry itself; our proxy appended what it saw: that one counts.
        ("1.1.1.1, 198.51.100.1", "198.51.100.1"),
        # Two of our proxies in a row: the address before them.
        ("1.1.1.1, 198.51.100.1, 10.0.0.7", "198.51.100.1"),
        # Nothing but our proxies: the peer.
        ("10.0.0.8", "10.0.0.2"),
        # A hop that is not an address stops the walk at what is known to be real.
        ("198.51.100.1, not-an-ip", "10.0.0.2"),
        ("", "10.0.0.2"),
        ("::ffff:198.51.100.1", "198.51.100.1"),
    ],
)
def test_behind_a_trusted_proxy_the_last_untrusted_hop_is_the_client(settings, forwarded, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request("10.0.0.2", forwarded)) == expected


def post_token(username: str, *, remote: str, forwarded: str):
    return APIClient().post(
        "/api/v1/auth/token", {"username": username, "password": "wrong"}, format="json",
        REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_a_client_cannot_escape_the_address_limit_by_sending_x_forwarded_for(settings):
    settings.TRUSTED_PROXIES = []
    settings.LOGIN_FAILURE_LIMIT = 3
    for i in range(3):
        assert post_token(f"user{i}", remote="203.0.113.9", forwarded=f"198.51.100.{i}").status_code == 401
    limited = post_token("someone-else", remote="203.0.113.9", forwarded="198.51.100.77")
    assert (limited.status_code, limited.json()["code"]) == (429, "rate_limited")


def test_behind_the_proxy_each_client_has_its_own_count(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.LOGIN_FAILURE_LIMIT = 3
    for i in range(3):
        assert post_token(f"user{i}", remote="10.0.0.2", forwarded="spoof, 198.51.100.1").status_code == 401
    assert post_token("user9", remote="10.0.0.2", forwarded="198.51.100.1").status_code == 429
    # Another client behind the same proxy is not punished for the first one's failures.
    assert post_token("user9", remote="10.0.0.2", forwarded="198.51.100.2").status_code == 401
