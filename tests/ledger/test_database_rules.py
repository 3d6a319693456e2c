"""The database itself refuses to change ledger history or commit an unbalanced transaction."""
import uuid
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from tests import holds as in_txn
from tests.factories import make_wallet
from wallets import ledger
from wallets.errors import DomainError
from wallets.models import Account, Entry, JournalTransaction

D = Decimal


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE wallets_entry SET amount = amount * 2 WHERE id = %s",
        "DELETE FROM wallets_entry WHERE id = %s",
    ],
)
def test_entries_cannot_be_updated_or_deleted(sql):
    wallet = make_wallet(balance=100)
    entry = Entry.objects.filter(account=wallet).get()

    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entry.id])

    assert Entry.objects.get(pk=entry.id).amount == D("100")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "sql",
    ["UPDATE wallets_journaltransaction SET description = 'edited' WHERE id = %s", "DELETE FROM wallets_journaltransaction WHERE id = %s"],
)
def test_transactions_cannot_be_updated_or_deleted(sql):
    wallet = make_wallet(balance=100)
    txn = JournalTransaction.objects.filter(entries__account=wallet).get()

    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [txn.id])


def _insert_transaction(cursor, legs):
    txn_id = uuid.uuid4()
    now = timezone.now()
    cursor.execute(
        "INSERT INTO wallets_journaltransaction (id, kind, description, metadata, created_at) "
        "VALUES (%s, 'raw', '', '{}', %s)",
        [txn_id, now],
    )
    for account_id, amount in legs:
        cursor.execute(
            "INSERT INTO wallets_entry (transaction_id, account_id, currency, bucket, amount, type, created_at) "
            "VALUES (%s, %s, 'INR', 0, %s, 'raw', %s)",
            [txn_id, account_id, amount, now],
        )
    return txn_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("legs", [[D("10"), D("-9")], [D("10")], []])
def test_unbalanced_transaction_is_refused_at_commit(legs):
    revenue = ledger.system_account_id("webuddy", Account.System.PLATFORM_REVENUE, "INR", 0)
    clearing = ledger.system_account_id("webuddy", Account.System.GATEWAY_CLEARING, "INR", 0)
    accounts = [revenue, clearing]

    with pytest.raises(IntegrityError, match="unbalanced"):
        with transaction.atomic(), connection.cursor() as cursor:
            _insert_transaction(cursor, list(zip(accounts, legs)))

    assert JournalTransaction.objects.count() == 0
    assert Entry.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_balanced_raw_transaction_commits():
    revenue = ledger.system_account_id("webuddy", Account.System.PLATFORM_REVENUE, "INR", 0)
    clearing = ledger.system_account_id("webuddy", Account.System.GATEWAY_CLEARING, "INR", 0)

    with transaction.atomic(), connection.cursor() as cursor:
        _insert_transaction(cursor, [(revenue, D("5")), (clearing, D("-5"))])

    assert JournalTransaction.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_reconcile_reports_entries_in_another_currency_or_without_an_account(capsys):
    from django.core.management import call_command

    usd = make_wallet(currency="USD")
    with transaction.atomic(), connection.cursor() as cursor:
        _insert_transaction(cursor, [(usd.id, D("5")), (uuid.uuid4(), D("-5"))])  # INR legs

    with pytest.raises(SystemExit):
        call_command("reconcile")
    out = capsys.readouterr().out
    assert "entry_currency_mismatch" in out and "entries_without_account" in out


@pytest.mark.django_db
def test_posting_refuses_a_system_leg_in_another_currency():
    wallet = make_wallet(balance=10)
    with pytest.raises(DomainError):
        ledger.post(
            kind="raw",
            legs=[
                ledger.Leg(account_id=wallet.id, currency="INR", amount=D("-5"), type="x"),
                ledger.Leg(account_id=ledger.system_account_id("tmr", "adjustments", "USD", 0), currency="INR", amount=D("5"), type="x", is_wallet=False),
            ],
        )
    wallet.refresh_from_db()
    assert wallet.balance == D("10")


@pytest.mark.django_db(transaction=True)
def test_cached_balance_check_constraints():
    wallet = make_wallet(balance=10)

    for sql in (
        "UPDATE wallets_account SET held_balance = -1 WHERE id = %s",
        "UPDATE wallets_account SET held_balance = 11 WHERE id = %s",
    ):
        with pytest.raises(IntegrityError):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [wallet.id])


@pytest.mark.django_db
def test_a_wallet_leg_disguised_as_a_system_leg_is_refused():
    wallet = make_wallet(balance=10)

    with pytest.raises(DomainError):
        ledger.post(
            kind="raw",
            legs=[
                ledger.Leg(account_id=wallet.id, currency="INR", amount=D("-5"), type="x", is_wallet=False),
                ledger.Leg(account_id=ledger.system_account("webuddy", "adjustments", "INR"), currency="INR", amount=D("5"), type="x", is_wallet=False),
            ],
        )
    wallet.refresh_from_db()
    assert wallet.balance == D("10")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amounts", [[D("1"), D("-2")], [D("1")], [D("0.001"), D("-0.001")], [D("0"), D("0")]]
)
def test_post_refuses_malformed_legs_before_touching_the_database(amounts):
    legs = [
        ledger.Leg(account_id=ledger.system_account("webuddy", "adjustments", "INR"), currency="INR", amount=a, type="x", is_wallet=False)
        for a in amounts
    ]
    with pytest.raises(ValueError):
        ledger.post(kind="raw", legs=legs)
    assert JournalTransaction.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_hold_cannot_capture_and_release_more_than_it_held():
    wallet = make_wallet(balance=10)
    hold = in_txn.place(wallet=wallet, amount=D("4"))

    with pytest.raises(IntegrityError, match="hold_parts_within_amount"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE wallets_hold SET captured = 3, released = 1.01 WHERE id = %s", [hold.id])


@pytest.mark.django_db
def test_the_posting_function_in_the_database_is_the_one_in_its_sql_file():
    from pathlib import Path

    import wallets

    text = (Path(wallets.__file__).parent / "sql" / "ledger_post.sql").read_text()
    body = text.split("LANGUAGE plpgsql AS $$", 1)[1].rsplit("$$;", 1)[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'ledger_post'")
        rows = cursor.fetchall()
    assert rows == [(body,)]
