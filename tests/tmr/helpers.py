"""Requests of the TMR Land dialect, as its web client and orders service send them."""
import itertools
import re

from rest_framework.test import APIClient

PASSWORD = "correct-horse-battery-9"
_names = itertools.count(1)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def register(username=None, password=PASSWORD) -> dict:
    username = username or f"user{next(_names)}"
    response = APIClient().post("/api/v1/auth/register", {"username": username, "password": password}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def signed_in(username=None) -> tuple[APIClient, dict]:
    """A client with a fresh user's access token."""
    user = register(username)
    tokens = APIClient().post("/api/v1/auth/token", {"username": user["username"], "password": PASSWORD}, format="json").json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client, user


def charge(client, amount, currency="USD"):
    response = client.post("/api/v1/wallet/charge", {"amount": amount, "currency": currency}, format="json")
    assert response.status_code == 200, response.content
    return response.json()
