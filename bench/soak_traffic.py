"""The soak's clients: partner backends, TMR users, the orders service, the payer and the bank, as
threads firing mixed traffic at a small set of wallets, and a log of every operation they made.

Every operation is one `Op`: the request, whether it carried an `Idempotency-Key`, every attempt's
answer (or the lack of one), and what it should have left in the ledger (its `fingerprint`: the
wallet and an amount no other operation of its kind on that wallet uses, or the id the service
answered). A client retries what it may safely repeat: with its key (the same key, the same body),
or when the request never left (connection refused), or when the operation has a natural key of its
own (an order id, a session that settles once, a provider's event id). Whether each operation was
applied exactly once is decided afterwards from the database (`bench.soak_checks`)."""
import heapq
import random
import threading
import time
import uuid
from decimal import Decimal

import simplejson

from bench.gateway_double import Double
from bench.soak_client import Amounts, Client, Op


class World:
    """What the clients know, shared by all threads: the seeded users, the sessions, orders,
    recharges and payouts in flight, the provider webhooks waiting to be delivered late, and the log
    of operations."""

    def __init__(self, *, webuddy_key: str, tmr_key: str, run: str):
        self.webuddy_key, self.tmr_key, self.run = webuddy_key, tmr_key, run
        self.lock = threading.Lock()
        self.users: list[str] = []  # WeBuddy payers
        self.experts: list[dict] = []  # {"id", "banks": {"RAZORPAY": id, "STRIPE": id}}
        self.tmr_users: list[dict] = []  # {"id", "token"}
        self.sessions: dict[str, dict] = {}  # active: id -> {"user", "expert"}
        self.orders: dict[str, str] = {}  # frozen: order id -> buyer
        self.unpaid: list[dict] = []  # pending recharges the payer has a checkout for
        self.settling: set = set()  # provider payouts and transfers the bank is deciding on
        self.late: list = []  # heap of (due, n, webhook request)
        self.ops: list[Op] = []
        self.counter = 0
        self.amounts = Amounts()

    def next_number(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def record(self, op: Op) -> Op:
        with self.lock:
            self.ops.append(op)
        return op


WEIGHTS = {
    "recharge": 10, "recharge.pay": 9, "session.start": 10, "session.adjust": 4, "session.end": 8,
    "payout": 6, "bank": 6, "tmr.charge": 7, "tmr.withdraw": 6, "escrow.freeze": 8, "escrow.release": 5,
    "escrow.cancel": 3,
}


class Traffic:
    """The operations, each a method taking the thread's client and random source."""

    def __init__(self, world: World, double: Double):
        self.world = world
        self.double = double

    # Helpers

    def webuddy_auth(self) -> dict:
        return {"Authorization": f"Api-Key {self.world.webuddy_key}"}

    def tmr_key_auth(self) -> dict:
        return {"Authorization": f"Api-Key {self.world.tmr_key}"}

    def _key(self, rng: random.Random, share: float) -> str | None:
        return f"soak-{uuid.UUID(int=rng.getrandbits(128))}" if rng.random() < share else None

    def _send(self, client: Client, op: Op, headers: dict) -> Op:
        """Send as clients do: now and then impatiently (giving up on the answer within half a
        second, then retrying), now and then twice at once with the same key (a double click)."""
        if client.rng.random() < 0.05:
            op.patience = client.rng.uniform(0.02, 0.5)
        if op.key is not None and client.rng.random() < 0.04:
            twin = Op(op.kind, op.method, op.path, op.body, key=op.key, natural=op.natural,
                      fingerprint=op.fingerprint, duplicate=True)
            other = Client(client.base, client.clock, random.Random(client.rng.random()))
            thread = threading.Thread(target=other.call, args=(twin,), kwargs={"headers": headers})
            thread.start()
            client.call(op, headers=headers)
            thread.join()
            self.world.record(twin)
            return self.world.record(op)
        return self.world.record(client.call(op, headers=headers))

    def control(self, path: str, **data) -> dict:
        """A control path of the gateway double (the payer or the bank acting), its webhook handed back unsent."""
        status, answer = self.double.handle("POST", path, {}, simplejson.dumps({**data, "webhook": False}))
        if status != 200:
            raise RuntimeError(f"the gateway double refused {path}: {answer}")
        return answer

    def deliver(self, client: Client, request: dict, what: str) -> Op:
        """A provider's signed webhook, retried as the providers do (their event id keeps it once)."""
        op = Op(f"webhook:{what}", "POST", request["path"], natural=True, raw=request["body"])
        return self.world.record(client.call(op, headers=request["headers"], raw=request["body"]))

    def deliver_all(self, client: Client, rng: random.Random, requests_: list[tuple[dict, str]]) -> None:
        """Webhooks of one payment or payout: some sent twice, some out of order, some late."""
        batch = list(requests_)
        for request, what in requests_:
            if rng.random() < 0.25:
                batch.append((request, what))  # the provider sends it again
        if len(batch) > 1 and rng.random() < 0.4:
            rng.shuffle(batch)
        for request, what in batch:
            if rng.random() < 0.2:
                with self.world.lock:
                    heapq.heappush(self.world.late, (time.monotonic() + rng.uniform(0.5, 5), self.world.counter,
                                                     (request, what)))
                    self.world.counter += 1
            else:
                self.deliver(client, request, what)

    def deliver_due(self, client: Client, *, everything: bool = False) -> None:
        while True:
            with self.world.lock:
                if not self.world.late or (not everything and self.world.late[0][0] > time.monotonic()):
                    return
                _, _, (request, what) = heapq.heappop(self.world.late)
            self.deliver(client, request, what)

    # WeBuddy: recharges, and the payer paying them

    def recharge(self, client: Client, rng: random.Random) -> None:
        user = rng.choice(self.world.users)
        method = rng.choice(["RAZORPAY", "STRIPE"])
        amount = self.world.amounts.draw(rng, ("recharge", user), 50, 500)
        op = Op("recharge", "POST", "/v1/wallet/recharge", {"userId": user, "amount": amount, "paymentMethod": method},
                key=self._key(rng, 0.7), fingerprint={"user": user, "amount": str(amount)})
        self._send(client, op, self.webuddy_auth())
        body = op.response or {}
        if op.status == 201 and body.get("status") == "pending" and body.get("checkout"):
            with self.world.lock:
                self.world.unpaid.append(body)

    def recharge_pay(self, client: Client, rng: random.Random) -> None:
        with self.world.lock:
            if not self.world.unpaid:
                return
            recharge = self.world.unpaid.pop(rng.randrange(len(self.world.unpaid)))
        checkout = recharge["checkout"]
        fate = rng.random()
        if fate < 0.08:
            return  # the payer never pays: it stays pending
        if recharge["paymentMethod"] == "RAZORPAY":
            order = checkout["orderId"]
            hooks = []
            if fate < 0.16 or rng.random() < 0.2:  # a failed attempt (alone, or before the one that pays)
                failed = self.control("/_double/razorpay/pay", order_id=order, status="failed")
                hooks.append((failed["webhook"], "payment.failed"))
            if fate >= 0.16:
                paid = self.control("/_double/razorpay/pay", order_id=order)
                hooks.append((paid["webhook"], "payment.captured"))
                if rng.random() < 0.3:  # Checkout's handler tells the partner backend, which verifies
                    verify = Op("recharge.verify", "POST", "/v1/wallet/recharge/verify", {
                        "rechargeId": recharge["id"], "razorpayOrderId": order, "razorpayPaymentId": paid["payment_id"],
                        "razorpaySignature": paid["signature"]}, key=self._key(rng, 0.5), natural=True)
                    self._send(client, verify, self.webuddy_auth())
            self.deliver_all(client, rng, hooks)
            return
        intent = checkout["paymentIntentId"]
        hooks = []
        if fate < 0.16 or rng.random() < 0.2:  # a declined card (alone, or before the one that pays)
            declined = {**self.double.intents[intent], "status": "requires_payment_method",
                        "last_payment_error": {"message": "Your card was declined."}}
            hooks.append((self.double.signed_stripe("payment_intent.payment_failed", declined), "payment_intent.payment_failed"))
        if fate >= 0.16:
            paid = self.control("/_double/stripe/pay", payment_intent=intent)
            hooks.append((paid["webhook"], "payment_intent.succeeded"))
        self.deliver_all(client, rng, hooks)

    # WeBuddy: sessions

    def session_start(self, client: Client, rng: random.Random) -> None:
        user = rng.choice(self.world.users)
        expert = rng.choice(self.world.experts)["id"]
        fee = self.world.amounts.draw(rng, ("session", user), 5, 60)
        op = Op("session.start", "POST", "/v1/sessions/start", {"userId": user, "expertId": expert, "sessionFee": fee},
                key=self._key(rng, 0.6), fingerprint={"user": user, "amount": str(fee)})
        self._send(client, op, self.webuddy_auth())
        if op.status == 201:
            with self.world.lock:
                self.world.sessions[op.response["id"]] = {"user": user, "expert": expert}

    def _pick_session(self, rng: random.Random, take: bool) -> tuple[str, dict] | None:
        with self.world.lock:
            if not self.world.sessions:
                return None
            session_id = rng.choice(list(self.world.sessions))
            return session_id, (self.world.sessions.pop(session_id) if take else self.world.sessions[session_id])

    def session_adjust(self, client: Client, rng: random.Random) -> None:
        picked = self._pick_session(rng, take=False)
        if picked is None:
            return
        session_id, _ = picked
        fee = Decimal(rng.randrange(500, 8000)).scaleb(-2)
        op = Op("session.adjust", "POST", "/v1/sessions/adjust",
                {"sessionId": session_id, "adjustedFee": fee, "deferFee": rng.random() < 0.4}, key=self._key(rng, 0.5))
        self._send(client, op, self.webuddy_auth())

    def session_end(self, client: Client, rng: random.Random) -> None:
        picked = self._pick_session(rng, take=True)
        if picked is None:
            return
        session_id, session = picked
        fee = Decimal(rng.randrange(0, 9000)).scaleb(-2)
        op = Op("session.end", "POST", "/v1/sessions/end",
                {"sessionId": session_id, "expertId": session["expert"], "actualFee": fee},
                key=self._key(rng, 0.5), natural=True, fingerprint={"session": session_id})
        self._send(client, op, self.webuddy_auth())
        if op.status == 400 and op.code == "insufficient_balance":
            with self.world.lock:
                self.world.sessions[session_id] = session  # still active: ended later (or never)

    # WeBuddy: payouts, and the bank deciding on them

    def payout(self, client: Client, rng: random.Random) -> None:
        expert = rng.choice(self.world.experts)
        method = rng.choice(["RAZORPAY", "STRIPE"])
        amount = self.world.amounts.draw(rng, ("payout", expert["id"]), 1, 30)
        op = Op("payout", "POST", "/v1/payouts/manual",
                {"expertId": expert["id"], "amount": amount, "bankAccount": expert["banks"][method], "paymentMethod": method},
                key=self._key(rng, 0.7), fingerprint={"expert": expert["id"], "amount": str(amount)})
        self._send(client, op, self.webuddy_auth())

    def bank(self, client: Client, rng: random.Random) -> None:
        """The bank settles a payout the provider holds: paid, failed, or paid and then returned (RazorpayX);
        a Connect transfer partly or wholly reversed (Stripe)."""
        with self.world.lock:
            payouts = [p for p in list(self.double.payouts.values())
                       if p["status"] == "processing" and p["id"] not in self.world.settling]
            transfers = [t for t in list(self.double.transfers.values())
                         if not t["reversed"] and t["id"] not in self.world.settling]
            if rng.random() < 0.75 and payouts:
                chosen, kind = rng.choice(payouts), "razorpayx"
            elif transfers and rng.random() < 0.3:
                chosen, kind = rng.choice(transfers), "stripe"
            else:
                return
            self.world.settling.add(chosen["id"])
        if kind == "razorpayx":
            fate = rng.random()
            if fate < 0.6:
                hooks = [(self.control("/_double/razorpay/payout", payout_id=chosen["id"], status="processed")["webhook"],
                          "payout.processed")]
            elif fate < 0.8:
                hooks = [(self.control("/_double/razorpay/payout", payout_id=chosen["id"], status="failed")["webhook"],
                          "payout.failed")]
            else:
                processed = self.control("/_double/razorpay/payout", payout_id=chosen["id"], status="processed")["webhook"]
                returned = self.control("/_double/razorpay/payout", payout_id=chosen["id"], status="reversed")["webhook"]
                hooks = [(processed, "payout.processed"), (returned, "payout.reversed")]
        else:
            part = max(1, chosen["amount"] // 2)
            hooks = [(self.control("/_double/stripe/reverse", transfer=chosen["id"], amount=part)["webhook"], "transfer.reversed")]
            if rng.random() < 0.5:
                whole = self.control("/_double/stripe/reverse", transfer=chosen["id"], amount=chosen["amount"])["webhook"]
                hooks.append((whole, "transfer.reversed"))
        self.deliver_all(client, rng, hooks)

    # TMR Land: the users' own wallets

    def _tmr_money(self, client: Client, rng: random.Random, kind: str, path: str, low: int, high: int) -> None:
        user = rng.choice(self.world.tmr_users)
        currency = "USDC" if rng.random() < 0.2 else "USD"
        decimals = 6 if currency == "USDC" else 2
        amount = self.world.amounts.draw(rng, (kind, user["id"], currency), low, high, decimals)
        op = Op(kind, "POST", path, {"amount": amount, "currency": currency}, key=self._key(rng, 0.6),
                fingerprint={"user": user["id"], "currency": currency, "amount": str(amount)})
        self._send(client, op, {"Authorization": f"Bearer {user['token']}"})

    def tmr_charge(self, client: Client, rng: random.Random) -> None:
        self._tmr_money(client, rng, "tmr.charge", "/api/v1/wallet/charge", 10, 200)

    def tmr_withdraw(self, client: Client, rng: random.Random) -> None:
        self._tmr_money(client, rng, "tmr.withdraw", "/api/v1/wallet/withdraw", 1, 50)

    # TMR Land: escrow of orders (the orders service)

    def escrow_freeze(self, client: Client, rng: random.Random, *, buyer: str | None = None, kind: str = "escrow.freeze") -> Op:
        buyer = buyer or rng.choice(self.world.tmr_users)["id"]
        order = f"{self.world.run}-{self.world.next_number()}"
        amount = self.world.amounts.draw(rng, ("freeze", buyer), 1, 40)
        op = Op(kind, "POST", "/api/v1/wallet/escrow/freeze",
                {"user_id": buyer, "order_id": order, "amount": amount, "currency": "USD"},
                key=self._key(rng, 0.6 if kind == "escrow.freeze" else 1), natural=True, fingerprint={"order": order})
        self._send(client, op, self.tmr_key_auth())
        if op.status == 201 and kind == "escrow.freeze":
            with self.world.lock:
                self.world.orders[order] = buyer
        return op

    def _close_order(self, client: Client, rng: random.Random, kind: str) -> None:
        with self.world.lock:
            if not self.world.orders:
                return
            order = rng.choice(list(self.world.orders))
            buyer = self.world.orders.pop(order)
        self.escrow_close(client, rng, order, buyer, kind)

    def escrow_close(self, client: Client, rng: random.Random, order: str, buyer: str, kind: str) -> Op:
        if kind.endswith("release"):
            payee = rng.choice([u["id"] for u in self.world.tmr_users if u["id"] != buyer])
            op = Op(kind, "POST", "/api/v1/wallet/escrow/release", {"order_id": order, "payee_id": payee},
                    key=self._key(rng, 0.5), natural=True, fingerprint={"order": order})
        else:
            op = Op(kind, "POST", "/api/v1/wallet/escrow/cancel", {"order_id": order},
                    key=self._key(rng, 0.5 if kind == "escrow.cancel" else 1), natural=True, fingerprint={"order": order})
        return self._send(client, op, self.tmr_key_auth())

    def escrow_release(self, client: Client, rng: random.Random) -> None:
        self._close_order(client, rng, "escrow.release")

    def escrow_cancel(self, client: Client, rng: random.Random) -> None:
        self._close_order(client, rng, "escrow.cancel")

    # The thread loop

    def operations(self) -> dict:
        return {
            "recharge": self.recharge, "recharge.pay": self.recharge_pay, "session.start": self.session_start,
            "session.adjust": self.session_adjust, "session.end": self.session_end, "payout": self.payout,
            "bank": self.bank, "tmr.charge": self.tmr_charge, "tmr.withdraw": self.tmr_withdraw,
            "escrow.freeze": self.escrow_freeze, "escrow.release": self.escrow_release, "escrow.cancel": self.escrow_cancel,
        }

    def loop(self, client: Client, rng: random.Random, stop: threading.Event, errors: list) -> None:
        operations = self.operations()
        names = list(WEIGHTS)
        weights = [WEIGHTS[name] for name in names]
        while not stop.is_set():
            try:
                self.deliver_due(client)
                operations[rng.choices(names, weights)[0]](client, rng)
            except Exception as exc:  # noqa: BLE001 - a bug of the soak itself: reported, the thread goes on
                errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.1)
