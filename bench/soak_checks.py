"""The soak's verdict, read from the database after the run (Django set up on the soak's cluster):
the ledger sums to zero, each operation left exactly the effect its answers promise, the providers'
money and ours agree, every client event reached the receiver, and no 5xx came outside a
database restart."""
import json
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, Sum

from bench.gateway_double import Double
from bench.soak_client import Op
from payouts.models import Payout
from sessions_app.models import ConsultationSession
from wallets.gateways import from_minor_units
from wallets.models import Delivery, Entry, Escrow, Event, GatewayEvent, JournalTransaction, Recharge

D = Decimal


@dataclass
class Check:
    name: str
    problems: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def reconcile(root, env: dict) -> Check:
    check = Check("`manage.py reconcile` exits 0")
    done = subprocess.run([sys.executable, "manage.py", "reconcile"], cwd=root, env=env, capture_output=True, text=True,
                          check=False)
    lines = done.stdout.strip().splitlines()
    check.detail = lines[-1] if lines else done.stderr.strip()[-300:]
    if done.returncode != 0:
        check.problems.append(f"exit {done.returncode}: " + " | ".join(lines[-5:]) + done.stderr[-500:])
    return check


def currency_sums() -> Check:
    check = Check("every currency sums to zero over all accounts")
    sums = dict(Entry.objects.values_list("currency").annotate(total=Sum("amount")).values_list("currency", "total"))
    check.detail = ", ".join(f"{currency} {total}" for currency, total in sorted(sums.items()))
    check.problems = [f"{currency} sums to {total}" for currency, total in sums.items() if total != 0]
    return check


def _expect(op: Op, count: int, what: str, problems: list) -> None:
    """An operation answered 2xx is there exactly once, one refused is not there, one whose answer was
    lost is there at most once."""
    allowed = {"yes": (1, 1), "no": (0, 0), "maybe": (0, 1)}[op.applied]
    if not allowed[0] <= count <= allowed[1]:
        answers = ",".join(str(a.status or a.error) for a in op.attempts)
        problems.append(f"{op.kind} {op.fingerprint} (key {'yes' if op.key else 'no'}, answers {answers}): "
                        f"{what} {count} time(s), expected {'once' if op.applied == 'yes' else 'never' if op.applied == 'no' else 'at most once'}")


class Ledger:
    """What the database holds, counted once in bulk (a half-hour run makes about 100,000 operations)."""

    def __init__(self):
        self.descriptions = Counter(JournalTransaction.objects.values_list("description", flat=True))
        self.recharges = Counter((str(user), amount) for user, amount in Recharge.objects.values_list("user_id", "amount"))
        self.sessions = Counter((str(user), fee) for user, fee in ConsultationSession.objects.values_list("user_id", "session_fee"))
        self.session_status = {str(pk): status for pk, status in ConsultationSession.objects.values_list("id", "status")}
        self.payouts = Counter((str(expert), amount) for expert, amount in Payout.objects.values_list("expert_id", "amount"))
        self.escrow_status = dict(Escrow.objects.values_list("order_id", "status"))
        self.wallet_entries = Counter(
            (str(user), currency, type_, amount) for user, currency, type_, amount in Entry.objects.filter(
                account__kind="wallet", type__in=[Entry.Type.DEPOSIT, Entry.Type.WITHDRAWAL],
            ).values_list("account__user_id", "account__currency", "type", "amount")
        )

    def postings(self, description: str) -> int:
        return self.descriptions[description]


def operations(ops: list[Op]) -> Check:
    """Each money operation in the ledger as many times as its answers say (once for a 2xx); a retry
    never applies anything a second time."""
    check = Check("every 2xx money answer is in the ledger exactly once; no retry applied twice")
    problems = check.problems
    ledger = Ledger()
    by_session: dict = defaultdict(list)
    by_order: dict = defaultdict(list)
    counted = 0
    for op in ops:
        f = op.fingerprint
        if op.kind == "recharge":
            _expect(op, ledger.recharges[(f["user"], D(f["amount"]))], "recharge recorded", problems)
        elif op.kind == "session.start":
            _expect(op, ledger.sessions[(f["user"], D(f["amount"]))], "session opened", problems)
            if op.ok:
                _expect(op, ledger.postings(f"Session hold: {op.response['id']}"), "session hold posted", problems)
        elif op.kind == "payout":
            _expect(op, ledger.payouts[(f["expert"], D(f["amount"]))], "payout recorded", problems)
            if op.ok:
                _expect(op, ledger.postings(f"Payout hold: {op.response['id']}"), "payout hold posted", problems)
        elif op.kind in ("tmr.charge", "tmr.withdraw"):
            amount = D(f["amount"])
            key = (f["user"], f["currency"], Entry.Type.DEPOSIT, amount) if op.kind == "tmr.charge" else (
                f["user"], f["currency"], Entry.Type.WITHDRAWAL, -amount)
            _expect(op, ledger.wallet_entries[key], "posted", problems)
        elif op.kind in ("escrow.freeze", "probe.freeze"):
            _expect(op, ledger.postings(f"Escrow freeze: order {f['order']}"), "frozen", problems)
        elif op.kind == "session.end":
            by_session[f["session"]].append(op)
        elif op.kind in ("escrow.release", "escrow.cancel", "probe.cancel"):
            by_order[f["order"]].append(op)
        else:
            continue
        counted += 1
    for session_id, ends in by_session.items():
        settled = ledger.postings(f"Consultation session: {session_id}")
        _closed_once(f"session {session_id}", ends, settled, problems)
        status = ledger.session_status[session_id]
        if (status == ConsultationSession.Status.SETTLED) != (settled == 1):
            problems.append(f"session {session_id} is {status} with {settled} settlement(s)")
    for order, closes in by_order.items():
        released, cancelled = ledger.postings(f"Order payout: {order}"), ledger.postings(f"Escrow cancel: order {order}")
        _closed_once(f"order {order}", [op for op in closes if op.kind == "escrow.release"], released, problems)
        _closed_once(f"order {order}", [op for op in closes if op.kind != "escrow.release"], cancelled, problems)
        status = ledger.escrow_status[order]
        if released + cancelled > 1 or {"released": (1, 0), "cancelled": (0, 1), "frozen": (0, 0)}[status] != (released, cancelled):
            problems.append(f"order {order} is {status} with {released} release(s) and {cancelled} cancel(s)")
    check.detail = f"{counted} operations checked against the ledger"
    return check


def _closed_once(what: str, ops: list[Op], postings: int, problems: list) -> None:
    """Operations that close one thing (end a session, release or cancel an order): together at most
    one posting, there if one of them was answered 2xx, absent if none may have been applied."""
    # Requests sent twice at once with one key are one operation.
    answered = len({op.key or id(op) for op in ops if op.applied == "yes"})
    maybe = len({op.key or id(op) for op in ops if op.applied == "maybe"})
    if postings > 1 or answered > 1 or postings < answered or (answered == 0 and maybe == 0 and postings):
        problems.append(f"{what}: {postings} posting(s) for {answered} 2xx and {maybe} unanswered "
                        f"({', '.join(op.kind + ':' + str(op.status) for op in ops)})")


def providers(double: Double, ops: list[Op]) -> tuple[Check, dict]:
    """The payment providers' money and ours agree: every payment received is credited once and
    nothing else is; every payout the bank made is paid here (reversed as much as the bank returned),
    none it did not make is, and none is made twice. Returns the check and the money that disagrees,
    by currency (the money lost)."""
    check = Check("the providers' money and the ledger agree")
    lost: dict = defaultdict(D)
    problems = check.problems

    def disagree(currency: str, amount, text: str) -> None:
        lost[currency] += abs(D(amount))
        problems.append(text)

    captured = defaultdict(list)
    for payment in list(double.payments.values()):
        if payment["status"] == "captured":
            captured[payment["order_id"]].append(payment)
    for intent in list(double.intents.values()):
        if intent["status"] == "succeeded":
            captured[intent["id"]].append(intent)
    credits = Counter(JournalTransaction.objects.filter(external_key__startswith="recharge:").values_list("external_key", flat=True))
    credited = _wallet_sums(Entry.objects.filter(transaction__reference_type="recharge"), "transaction__reference_id")
    for recharge in Recharge.objects.all():
        paid = captured.get(recharge.provider_order_id, []) if recharge.provider_order_id else []
        deposits = credited.get(str(recharge.id), D(0))
        credits_of = credits[f"recharge:{recharge.id}"]
        expected = recharge.amount if paid else D(0)
        if len(paid) > 1:
            disagree(recharge.currency, recharge.amount * (len(paid) - 1), f"recharge {recharge.id} was paid {len(paid)} times")
        if deposits != expected or credits_of != (1 if paid else 0):
            disagree(recharge.currency, deposits - expected,
                     f"recharge {recharge.id} ({recharge.status}): provider received {expected}, wallet credited {deposits} "
                     f"in {credits_of} posting(s)")
        if (recharge.status == Recharge.Status.SUCCEEDED) != bool(paid):
            problems.append(f"recharge {recharge.id} is {recharge.status} though the provider has {len(paid)} payment(s)")

    made = defaultdict(list)
    for payout in list(double.payouts.values()):
        made[payout.get("reference_id")].append(("razorpayx", payout))
    for transfer in list(double.transfers.values()):
        made[transfer.get("transfer_group")].append(("stripe", transfer))
    paid_out = _wallet_sums(Entry.objects.filter(transaction__description__startswith="Payout to bank: "), "transaction__description")
    paid_back = _wallet_sums(Entry.objects.filter(transaction__description__startswith="Payout returned: "), "transaction__description")
    for payout in Payout.objects.all():
        at_bank = made.get(str(payout.id), [])
        if len(at_bank) > 1:
            disagree(payout.currency, payout.amount * (len(at_bank) - 1), f"payout {payout.id} was made {len(at_bank)} times")
        bank_status, bank_returned = "none", D(0)
        if at_bank:
            provider, entity = at_bank[0]
            if provider == "razorpayx":
                bank_status = {"processed": "paid", "reversed": "reversed", "failed": "failed"}.get(entity["status"], "processing")
                bank_returned = payout.amount if bank_status == "reversed" else D(0)
            else:
                bank_returned = from_minor_units(entity["amount_reversed"], payout.currency)
                bank_status = "reversed" if entity["reversed"] else "paid"
        captured_out = -paid_out.get(f"Payout to bank: {payout.id}", D(0))
        returned = paid_back.get(f"Payout returned: {payout.id}", D(0))
        expected_out = payout.amount if bank_status in ("paid", "reversed") else D(0)
        expected_status = {
            "none": {"pending", "processing", "failed", "cancelled"}, "processing": {"pending", "processing"},
            "failed": {"failed"}, "paid": {"paid"}, "reversed": {"reversed" if bank_returned == payout.amount else "paid"},
        }[bank_status]
        off = abs(captured_out - expected_out) + abs(returned - bank_returned)
        if off or payout.status not in expected_status or payout.reversed_amount != bank_returned:
            disagree(payout.currency, off or payout.amount,
                     f"payout {payout.id} is {payout.status} here ({captured_out} paid out, {returned} returned, "
                     f"reversed_amount {payout.reversed_amount}); at the bank {bank_status}, {bank_returned} returned; "
                     + _payout_story(payout, [entity["id"] for _, entity in at_bank], ops))
    total = ", ".join(f"{amount} {currency}" for currency, amount in sorted(lost.items()) if amount) or "0"
    check.detail = f"{Recharge.objects.count()} recharges, {Payout.objects.count()} payouts compared; money lost: {total}"
    return check, dict(lost)


def _wallet_sums(entries, by: str) -> dict:
    """The wallets' side of some postings: {value of `by`: sum of the wallet entries}."""
    return dict(entries.filter(account__kind="wallet").values_list(by).annotate(total=Sum("amount")).values_list(by, "total"))


def _payout_story(payout: Payout, bank_ids: list[str], ops: list[Op]) -> str:
    """What the service recorded of a payout, and the provider's webhooks about it, for the report."""
    names = [str(payout.id), *bank_ids]
    sent = [f"{op.kind} -> {op.status} {op.response}" for op in ops if op.raw and any(name in op.raw for name in names)]
    events = GatewayEvent.objects.filter(Q(object_id=str(payout.id)) | Q(event_id__in=[
        json.loads(op.raw).get("id") for op in ops if op.raw and any(name in op.raw for name in names)])).order_by("id")
    heard = "; ".join(f"{e.event_type} {e.event_id} -> {e.outcome} {e.detail}".strip() for e in events) or "none recorded"
    return (f"submitted {payout.submitted_at}, gateway attempts {payout.gateway_attempts}, answer {payout.gateway_answer}, "
            f"provider id {payout.provider_payout_id}; webhooks sent: {'; '.join(sent) or 'none'}; recorded: {heard}")


def deliveries(acknowledged: set, bad_signatures: int) -> Check:
    check = Check("every client event was delivered to the receiver")
    events = set(map(str, Event.objects.values_list("id", flat=True)))
    missing = events - acknowledged
    pending = Delivery.objects.exclude(status=Delivery.Status.DELIVERED).count()
    check.detail = f"{len(events)} events, {Delivery.objects.count()} deliveries"
    if missing:
        check.problems.append(f"{len(missing)} event(s) never reached the receiver, e.g. {sorted(missing)[:3]}")
    if pending:
        stuck = Delivery.objects.exclude(status=Delivery.Status.DELIVERED).select_related("event")[:3]
        check.problems.append(f"{pending} deliveries not delivered, e.g. " + "; ".join(
            f"{d.event.type} {d.event_id}: {d.status}, {d.attempts} attempt(s), last {d.last_status_code or d.last_error!r}, "
            f"next at {d.next_attempt_at:%H:%M:%S}" if d.next_attempt_at else f"{d.event.type} {d.event_id}: {d.status}"
            for d in stuck))
    if bad_signatures:
        check.problems.append(f"{bad_signatures} deliveries with a bad signature")
    return check


def undelivered_events(acknowledged: set) -> int:
    """How many events (or deliveries) are not delivered yet: the drain waits for 0."""
    events = set(map(str, Event.objects.values_list("id", flat=True)))
    return len(events - acknowledged) + Delivery.objects.exclude(status=Delivery.Status.DELIVERED).count()


def server_errors(ops: list[Op], windows: list[tuple[float, float]]) -> Check:
    """No 5xx except while the database restarts (a request overlapping a restart window), and the
    documented 502 `gateway_unavailable` of a provider failing on purpose."""
    check = Check("no 5xx outside the database restart window")
    allowed = injected = 0
    for op in ops:
        for attempt in op.attempts:
            if attempt.status is None or attempt.status < 500:
                continue
            if attempt.status == 502 and attempt.code == "gateway_unavailable":
                injected += 1
            elif any(attempt.started <= end and attempt.ended >= start for start, end in windows):
                allowed += 1
            else:
                check.problems.append(f"{op.kind} answered {attempt.status} {attempt.code} at +{attempt.started:.1f}s")
    check.detail = f"{allowed} inside a restart window, {injected} documented 502 gateway_unavailable (provider failing)"
    return check


def clients(ops: list[Op], soak_errors: list[str]) -> Check:
    """Every operation got a final answer (none left retrying), no key was refused as reused with the
    same body, every provider webhook was accepted, and the soak's own threads raised nothing."""
    check = Check("every operation answered; provider webhooks accepted; keys never refused as reused")
    for op in ops:
        if op.unresolved:
            check.problems.append(f"{op.kind} {op.fingerprint or op.body} got no final answer after "
                                  f"{len(op.attempts)} attempts ({op.status} {op.code})")
        elif op.code == "idempotency_key_reused":
            check.problems.append(f"{op.kind}: the same key and body was refused as reused")
        elif op.kind.startswith("webhook:") and op.status != 200:
            check.problems.append(f"{op.kind} answered {op.status} {op.code}")
    check.problems.extend(f"soak thread error: {error}" for error in soak_errors[:20])
    return check
