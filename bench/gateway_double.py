"""A local test double of the Razorpay (with RazorpayX) and Stripe HTTP APIs, for running the service
in `PAYMENTS_MODE=live` with nothing leaving the machine (the payments walk-through, the soak).

It answers the paths the service calls, under one base address for both providers
(`RAZORPAY_API_BASE` and `STRIPE_API_BASE` both point at it), keeps what it made in memory, honours
the idempotency headers (`X-Payout-Idempotency`, `Idempotency-Key`) as the providers do, and plays
the payer and the bank through its control paths, which send the service the signed webhooks the
providers would:

    POST /_double/razorpay/pay          {"order_id"[, "status"]}       -> {"payment_id", "signature"}
                                        status "authorized": sends payment.authorized, and
                                        the service's capture sends payment.captured
    POST /_double/razorpay/payout       {"payout_id", "status"}        processed | failed | reversed
    POST /_double/stripe/pay            {"payment_intent"}
    POST /_double/stripe/reverse        {"transfer", "amount"}         minor units, in all so far
    GET  /_double/state                 what it holds (for tests and the walk-through)

With `"webhook": false` a control path sends nothing and answers the signed request instead
(`{"webhook": {"path", "body", "headers"}}`; a failed Razorpay payment's `payment.failed` too), for the
caller to deliver late, out of order or more than once, as the providers do.

Run: `python -m bench.gateway_double --port 8765 --service http://127.0.0.1:8000` (the secrets are
the ones of docs/payments.md's walk-through unless given). `failure_rate` makes that share of the
service's calls answer 503, for the soak. `payouts_open` (a threading.Event, set by default) is the
bank's door: cleared, a payout or transfer request waits at the double until it is set again
(`payouts_waiting` counts the requests that arrived), so a test can stop the service mid-call.
"""
import argparse
import base64
import hashlib
import hmac
import itertools
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import requests

DEFAULTS = {
    "razorpay_key_id": "rzp_test_double",
    "razorpay_key_secret": "rzp_double_secret",
    "razorpay_webhook_secret": "rzp_double_webhook_secret",
    "stripe_secret_key": "sk_test_double",
    "stripe_webhook_secret": "whsec_double",
}


def _form(body: str) -> dict:
    """Stripe's form encoding, `metadata[rechargeId]=...` nested back into dicts."""
    out: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        if "[" in key:
            outer, inner = key[:-1].split("[", 1)
            out.setdefault(outer, {})[inner] = value
        else:
            out[key] = value
    return out


class Double:
    def __init__(self, *, service: str, failure_rate: float = 0.0, seed: int = 7, **secrets):
        self.service = service.rstrip("/")
        self.secrets = {**DEFAULTS, **{k: v for k, v in secrets.items() if v}}
        self.failure_rate = failure_rate
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.orders: dict = {}
        self.payments: dict = {}
        self.contacts: dict = {}
        self.fund_accounts: dict = {}
        self.payouts: dict = {}
        self.intents: dict = {}
        self.transfers: dict = {}
        self.by_key: dict = {}  # (kind, idempotency key) -> object id
        self.webhooks_sent: list = []
        self.calls: list = []
        self.payouts_open = threading.Event()
        self.payouts_open.set()
        self.payouts_waiting = 0
        self.failed_on_purpose = 0

    def bank_door(self) -> None:
        """A payout or transfer request waits here while `payouts_open` is cleared."""
        with self.lock:
            self.payouts_waiting += 1
        self.payouts_open.wait(120)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_dbl{next(self.ids):06d}"

    # Webhooks to the service

    def signed_razorpay(self, event: str, payload: dict) -> dict:
        """The signed webhook request Razorpay would send: {"path", "body", "headers"}."""
        body = json.dumps({"entity": "event", "event": event, "payload": payload, "created_at": int(time.time())})
        signature = hmac.new(self.secrets["razorpay_webhook_secret"].encode(), body.encode(), hashlib.sha256).hexdigest()
        return {"path": "/v1/webhooks/razorpay", "body": body, "headers": {
            "Content-Type": "application/json", "X-Razorpay-Signature": signature,
            "X-Razorpay-Event-Id": self.new_id("evt"),
        }}

    def signed_stripe(self, event_type: str, obj: dict) -> dict:
        """The signed webhook request Stripe would send: {"path", "body", "headers"}."""
        body = json.dumps({"id": self.new_id("evt"), "object": "event", "type": event_type, "data": {"object": obj},
                           "created": int(time.time())})
        t = int(time.time())
        v1 = hmac.new(self.secrets["stripe_webhook_secret"].encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
        return {"path": "/v1/webhooks/stripe", "body": body, "headers": {
            "Content-Type": "application/json", "Stripe-Signature": f"t={t},v1={v1}",
        }}

    def send(self, request: dict, what: str) -> int:
        response = requests.post(f"{self.service}{request['path']}", data=request["body"].encode(),
                                 headers=request["headers"], timeout=10)
        self.webhooks_sent.append((what, response.status_code))
        return response.status_code

    def send_later(self, request: dict, what: str) -> None:
        """A webhook sent from a thread of its own (a service that cannot be reached is noted, not raised)."""
        try:
            self.send(request, what)
        except requests.RequestException:
            self.webhooks_sent.append((what, None))

    def send_razorpay(self, event: str, payload: dict) -> int:
        return self.send(self.signed_razorpay(event, payload), event)

    def send_stripe(self, event_type: str, obj: dict) -> int:
        return self.send(self.signed_stripe(event_type, obj), event_type)

    def webhook(self, data: dict, request: dict, what: str) -> dict:
        """A control path's webhook: sent now, or (`"webhook": false`) handed back to be sent by the
        caller, which may then deliver it late, out of order or twice."""
        if data.get("webhook", True):
            return {"webhook_status": self.send(request, what)}
        return {"webhook": request}

    # The providers' API

    def handle(self, method: str, path: str, headers, body: str, query: dict | None = None):
        """(status, json) of one call of the service."""
        self.calls.append((method, path))
        query = query or {}
        if path.startswith("/_double/"):
            return self.control(method, path, body)
        if self.failure_rate and self.random.random() < self.failure_rate:
            self.failed_on_purpose += 1
            return 503, {"error": {"code": "SERVER_ERROR", "description": "the double failed on purpose"}}
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            if auth[7:] != self.secrets["stripe_secret_key"]:
                return 401, {"error": {"message": "Invalid API Key provided"}}
            return self.stripe(method, path, headers, _form(body), query)
        expected = base64.b64encode(f"{self.secrets['razorpay_key_id']}:{self.secrets['razorpay_key_secret']}".encode())
        if auth != f"Basic {expected.decode()}":
            return 401, {"error": {"code": "BAD_REQUEST_ERROR", "description": "Authentication failed"}}
        return self.razorpay(method, path, headers, json.loads(body) if body else {}, query)

    def idempotent(self, kind: str, key: str | None, make):
        with self.lock:
            if key and (kind, key) in self.by_key:
                return self.by_key[(kind, key)]
            made = make()
            if key:
                self.by_key[(kind, key)] = made
            return made

    def razorpay(self, method, path, headers, data, query):
        parts = path.strip("/").split("/")
        if method == "POST" and path == "/v1/orders":
            order = {"id": self.new_id("order"), "entity": "order", "amount": data["amount"], "currency": data["currency"],
                     "receipt": data.get("receipt"), "notes": data.get("notes", {}), "status": "created"}
            self.orders[order["id"]] = order
            return 200, order
        if method == "GET" and path == "/v1/orders":
            receipt = query.get("receipt")
            return 200, {"entity": "collection", "items": [o for o in list(self.orders.values()) if o.get("receipt") == receipt]}
        if method == "GET" and len(parts) == 4 and parts[1] == "orders" and parts[3] == "payments":
            # Newest first, as Razorpay lists them.
            mine = [p for p in list(self.payments.values()) if p["order_id"] == parts[2]]
            return 200, {"entity": "collection", "items": mine[::-1]}
        if method == "GET" and len(parts) == 3 and parts[1] == "payments":
            found = self.payments.get(parts[2])
            return (200, found) if found else (400, {"error": {"code": "BAD_REQUEST_ERROR", "description": "no such payment"}})
        if method == "POST" and len(parts) == 4 and parts[1] == "payments" and parts[3] == "capture":
            found = self.payments.get(parts[2])
            if not found or found["status"] != "authorized":
                return 400, {"error": {"code": "BAD_REQUEST_ERROR", "description": "payment cannot be captured"}}
            found["status"] = "captured"
            # Razorpay tells of the capture by webhook too, after answering the call.
            event = self.signed_razorpay("payment.captured", {"payment": {"entity": dict(found)}})
            threading.Thread(target=self.send_later, args=(event, "payment.captured"), daemon=True).start()
            return 200, found
        if method == "POST" and path == "/v1/contacts":
            key = f"{data.get('reference_id')}|{data.get('name')}"
            return 201, self.idempotent("contact", key, lambda: self.contacts.setdefault(
                key, {"id": self.new_id("cont"), "entity": "contact", **data}))
        if method == "POST" and path == "/v1/fund_accounts":
            key = json.dumps(data, sort_keys=True)
            return 201, self.idempotent("fund_account", key, lambda: self.fund_accounts.setdefault(
                key, {"id": self.new_id("fa"), "entity": "fund_account", **data}))
        if method == "POST" and path == "/v1/payouts":
            self.bank_door()

            def make():
                payout = {"id": self.new_id("pout"), "entity": "payout", "status": "processing", **data}
                self.payouts[payout["id"]] = payout
                return payout

            return 200, self.idempotent("payout", headers.get("X-Payout-Idempotency"), make)
        if method == "GET" and path == "/v1/payouts":
            reference = query.get("reference_id")
            return 200, {"entity": "collection", "items": [p for p in list(self.payouts.values()) if p.get("reference_id") == reference]}
        if method == "GET" and len(parts) == 3 and parts[1] == "payouts":
            found = self.payouts.get(parts[2])
            return (200, found) if found else (404, {"error": {"code": "BAD_REQUEST_ERROR", "description": "no such payout"}})
        return 404, {"error": {"code": "BAD_REQUEST_ERROR", "description": f"no route {method} {path}"}}

    def stripe(self, method, path, headers, data, query):
        parts = path.strip("/").split("/")
        key = headers.get("Idempotency-Key")
        if method == "POST" and path == "/v1/payment_intents":

            def make():
                intent_id = self.new_id("pi")
                intent = {"id": intent_id, "object": "payment_intent", "amount": int(data["amount"]),
                          "amount_received": 0, "currency": data["currency"], "metadata": data.get("metadata", {}),
                          "status": "requires_payment_method", "client_secret": f"{intent_id}_secret_dbl",
                          "created": int(time.time())}
                self.intents[intent_id] = intent
                return intent

            return 200, self.idempotent("intent", key, make)
        if method == "GET" and len(parts) == 3 and parts[1] == "payment_intents":
            found = self.intents.get(parts[2])
            return (200, found) if found else (404, {"error": {"type": "invalid_request_error", "message": "No such intent"}})
        if method == "POST" and len(parts) == 4 and parts[1] == "payment_intents" and parts[3] == "cancel":
            found = self.intents.get(parts[2])
            if not found:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such intent"}}
            if found["status"] == "succeeded":
                return 400, {"error": {"type": "invalid_request_error", "message": "This PaymentIntent has succeeded"}}
            found["status"] = "canceled"
            return 200, found
        if method == "POST" and path == "/v1/transfers":
            self.bank_door()

            def make():
                transfer = {"id": self.new_id("tr"), "object": "transfer", "amount": int(data["amount"]),
                            "currency": data["currency"], "destination": data["destination"],
                            "transfer_group": data.get("transfer_group"),
                            "metadata": data.get("metadata", {}), "amount_reversed": 0, "reversed": False}
                self.transfers[transfer["id"]] = transfer
                return transfer

            return 200, self.idempotent("transfer", key, make)
        if method == "GET" and path == "/v1/transfers":
            group = query.get("transfer_group")
            return 200, {"object": "list", "has_more": False,
                         "data": [t for t in list(self.transfers.values()) if t.get("transfer_group") == group]}
        if method == "GET" and len(parts) == 3 and parts[1] == "transfers":
            found = self.transfers.get(parts[2])
            return (200, found) if found else (404, {"error": {"type": "invalid_request_error", "message": "No such transfer"}})
        return 404, {"error": {"type": "invalid_request_error", "message": f"no route {method} {path}"}}

    # Playing the payer and the bank

    def control(self, method, path, body):
        data = json.loads(body) if body else {}
        if path == "/_double/state":
            return 200, {"orders": self.orders, "payments": self.payments, "payouts": self.payouts,
                         "intents": self.intents, "transfers": self.transfers, "webhooks_sent": self.webhooks_sent}
        if path == "/_double/razorpay/pay":
            order = self.orders[data["order_id"]]
            payment = {"id": self.new_id("pay"), "entity": "payment", "order_id": order["id"], "amount": order["amount"],
                       "currency": order["currency"], "status": data.get("status", "captured"),
                       "created_at": int(time.time())}
            self.payments[payment["id"]] = payment
            order["status"] = "paid" if payment["status"] == "captured" else order["status"]
            signature = hmac.new(self.secrets["razorpay_key_secret"].encode(), f"{order['id']}|{payment['id']}".encode(),
                                 hashlib.sha256).hexdigest()
            answer = {"payment_id": payment["id"], "signature": signature, "webhook_status": None}
            if payment["status"] in ("captured", "authorized") or (payment["status"] == "failed" and not data.get("webhook", True)):
                event = {"captured": "payment.captured", "authorized": "payment.authorized"}.get(payment["status"], "payment.failed")
                answer.update(self.webhook(data, self.signed_razorpay(event, {"payment": {"entity": dict(payment)}}), event))
            return 200, answer
        if path == "/_double/razorpay/payout":
            payout = self.payouts[data["payout_id"]]
            payout["status"] = data["status"]
            event = f"payout.{data['status']}"
            return 200, self.webhook(data, self.signed_razorpay(event, {"payout": {"entity": dict(payout)}}), event)
        if path == "/_double/stripe/pay":
            intent = self.intents[data["payment_intent"]]
            intent.update(status="succeeded", amount_received=intent["amount"])
            return 200, self.webhook(data, self.signed_stripe("payment_intent.succeeded", dict(intent)), "payment_intent.succeeded")
        if path == "/_double/stripe/reverse":
            transfer = self.transfers[data["transfer"]]
            transfer["amount_reversed"] = int(data["amount"])
            transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
            return 200, self.webhook(data, self.signed_stripe("transfer.reversed", dict(transfer)), "transfer.reversed")
        return 404, {"error": f"no control path {path}"}


def serve(double: Double, port: int = 0) -> ThreadingHTTPServer:
    """Serve the double on 127.0.0.1 (port 0: any free one) in a background thread."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            status, payload = double.handle(self.command, path, self.headers, body, dict(parse_qsl(query)))
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _answer

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--service", default="http://127.0.0.1:8000")
    parser.add_argument("--failure-rate", type=float, default=0.0)
    args = parser.parse_args()
    server = serve(Double(service=args.service, failure_rate=args.failure_rate), args.port)
    print(f"gateway double on http://127.0.0.1:{server.server_port} (webhooks to {args.service})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
