"""Requests of the WeBuddy dialect, as a partner backend sends them."""
from decimal import Decimal

PHONES = iter(f"+9198{n:08d}" for n in range(10_000_000))


def create_user(client, *, max_credits=None, name="Asha", phone=None) -> dict:
    body = {"phoneNumber": phone or next(PHONES), "name": name}
    if max_credits is not None:
        body["max_credits"] = max_credits
    response = client.post("/v1/users", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def recharge(client, user_id, amount, method="RAZORPAY") -> dict:
    response = client.post(
        "/v1/wallet/recharge", {"userId": user_id, "amount": amount, "paymentMethod": method}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def funded_user(client, amount, **kw) -> dict:
    user = create_user(client, **kw)
    if amount:
        recharge(client, user["id"], amount)
    return user


def wallet_of(client, user_id) -> dict:
    return client.get(f"/v1/users/{user_id}").json()["wallet"]


def post_json(client, url, body: str):
    """Send the body exactly as written (to keep 1.005 or NaN from a Python float)."""
    return client.post(url, data=body, content_type="application/json")


def num(value) -> Decimal:
    return Decimal(str(value))
