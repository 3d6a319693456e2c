"""Real concurrency on PostgreSQL: threads with their own connections hammering the same wallets."""
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, connections

from tests import holds as in_txn
from tests.factories import make_wallet
from tests.invariants import assert_ledger_invariants
from wallets.errors import DomainError, ErrorCode
from wallets.models import Account
from wallets.services import holds, postings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.races]
D = Decimal


def run_concurrently(count: int, fn, workers: int = 16) -> list:
    """Run fn(i) for i in range(count) on `workers` threads released together; return results or errors."""
    barrier = threading.Barrier(min(workers, count))

    def task(i):
        try:
            if i < workers:
                barrier.wait(timeout=30)
            return fn(i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the caller
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(task, range(count)))


def test_fifty_concurrent_withdrawals_of_ten_from_a_hundred():
    wallet = make_wallet(balance=100)

    results = run_concurrently(50, lambda i: postings.wallet_withdraw(wallet=wallet, amount=D("10")))

    errors = [r for r in results if isinstance(r, Exception)]
    assert len(results) - len(errors) == 10
    assert all(isinstance(e, DomainError) and e.code == ErrorCode.INSUFFICIENT_BALANCE for e in errors), errors[:3]
    wallet.refresh_from_db()
    assert wallet.balance == D("0")
    assert_ledger_invariants()


def test_two_hundred_transfers_in_both_directions_never_deadlock():
    a = make_wallet(balance=1000)
    b = make_wallet(balance=1000)

    def transfer(i):
        source, destination = (a, b) if i % 2 else (b, a)
        return postings.wallet_transfer(source=source, destination=destination, amount=D("1") + i % 7)

    results = run_concurrently(200, transfer)

    assert [r for r in results if isinstance(r, Exception)] == []
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.balance + b.balance == D("2000")
    assert_ledger_invariants()
    call_command("reconcile")  # exits 0: SystemExit would fail the test


def test_concurrent_holds_and_captures_on_one_wallet():
    buyer = make_wallet(balance=100)
    seller = make_wallet()

    def hold_then_settle(i):
        hold = in_txn.place(wallet=buyer, amount=D("10"))
        if i % 2:
            return in_txn.capture(
                hold_id=hold.id, payees=[holds.Payee(amount=D("10"), type="credit", wallet=seller)]
            )
        return in_txn.release(hold_id=hold.id)

    results = run_concurrently(40, hold_then_settle)

    assert all(isinstance(r, DomainError) and r.code == ErrorCode.INSUFFICIENT_BALANCE for r in results if isinstance(r, Exception))
    buyer.refresh_from_db()
    seller.refresh_from_db()
    assert buyer.held_balance == 0
    assert buyer.balance + seller.balance == D("100")
    assert_ledger_invariants()


def test_reconcile_exits_zero_on_a_clean_ledger_and_one_after_tampering(capsys):
    wallet = make_wallet(balance=100)
    postings.wallet_withdraw(wallet=wallet, amount=D("30"))

    call_command("reconcile")
    assert "OK" in capsys.readouterr().out

    with connection.cursor() as cursor:
        cursor.execute("UPDATE wallets_account SET balance = balance + 1 WHERE id = %s", [wallet.id])
    with pytest.raises(SystemExit) as exit_:
        call_command("reconcile")
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "balance_mismatch" in out and str(wallet.id) in out
    assert Account.objects.get(pk=wallet.id).balance == D("71")
