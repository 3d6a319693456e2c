"""Rows from before tenants get theirs: phone-number users and their wallets to WeBuddy, sign-up
users to TMR Land, keys by scope, escrows with their buyer, system accounts (and their entries) to
the tenant that used their currency; staff to none. The ledger still reconciles, per tenant."""
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from wallets.models import Account, ApiKey, Escrow, Tenant, User
from wallets.selectors import ledger_reconcile, system_account_balance
from wallets.services import api_keys, postings

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
BEFORE = [("wallets", "0011_finance_group")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_schema():
    """The apps as they were before tenants; the schema goes back to the latest afterwards, whatever happens."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        yield migrate(BEFORE), latest
    finally:
        migrate(latest)


def test_existing_rows_are_given_their_tenants(old_schema):
    old, latest = old_schema
    OldUser, OldAccount = old.get_model("wallets", "User"), old.get_model("wallets", "Account")
    OldKey, OldEscrow, OldHold = old.get_model("wallets", "ApiKey"), old.get_model("wallets", "Escrow"), old.get_model("wallets", "Hold")
    OldTxn, OldEntry = old.get_model("wallets", "JournalTransaction"), old.get_model("wallets", "Entry")
    from django.utils import timezone

    asha = OldUser.objects.create(phone_number="+919876543210", name="Asha", password="!")
    mei = OldUser.objects.create(username="mei", password="!")
    staff = OldUser.objects.create(username="finance", password="!", is_staff=True)
    inr = OldAccount.objects.create(kind="wallet", user=asha, currency="INR", balance=D(500), statement_lines=1)
    usd = OldAccount.objects.create(kind="wallet", user=mei, currency="USD")
    clearing = OldAccount.objects.get(kind="system", system_code="gateway_clearing", currency="INR", stripe=0)
    now = timezone.now()
    with transaction.atomic():  # balanced at commit, as the database checks
        txn = OldTxn.objects.create(kind="deposit", description="Deposit", created_at=now)
        OldEntry.objects.create(transaction=txn, account_id=clearing.id, currency="INR", amount=D(-500), type="deposit",
                                created_at=now)
        OldEntry.objects.create(transaction=txn, account_id=inr.id, currency="INR", amount=D(500), type="deposit",
                                balance_after=D(500), held_after=D(0), created_at=now)
    OldKey.objects.create(name="partner", scope="webuddy", prefix="aaaa", key_hash="x")
    OldKey.objects.create(name="orders", scope="tmr", prefix="bbbb", key_hash="y")
    hold = OldHold.objects.create(account=usd, currency="USD", amount=D(1), status="released", released=D(1))
    OldEscrow.objects.create(order_id="o-1", user=mei, account=usd, amount=D(1), currency="USD", hold=hold,
                             status="cancelled")

    migrate(latest)

    assert User.objects.get(pk=asha.pk).tenant_id == "webuddy"
    assert User.objects.get(pk=mei.pk).tenant_id == "tmr"
    assert User.objects.get(pk=staff.pk).tenant_id is None
    assert Account.objects.get(pk=inr.pk).tenant_id == "webuddy"
    assert Account.objects.get(pk=usd.pk).tenant_id == "tmr"
    assert Account.objects.get(pk=clearing.pk).tenant_id == "webuddy"
    assert set(Account.objects.filter(kind="system", currency="USD").values_list("tenant_id", flat=True)) == {"tmr"}
    assert dict(ApiKey.objects.values_list("name", "tenant_id")) == {"partner": "webuddy", "orders": "tmr"}
    assert Escrow.objects.get(order_id="o-1").tenant_id == "tmr"
    # The old system account keeps its id and its entries, and is the one WeBuddy's postings use.
    assert system_account_balance(tenant="webuddy", code="gateway_clearing", currency="INR") == D(-500)
    wallet = Account.objects.get(pk=inr.pk)
    postings.wallet_deposit(wallet=wallet, amount=D(5))
    assert system_account_balance(tenant="webuddy", code="gateway_clearing", currency="INR") == D(-505)
    report = ledger_reconcile(record=False)
    assert report.ok, report.problems
    assert report.tenants["webuddy"].sums == {"INR": 0}


def test_going_back_before_tenants_gives_keys_their_scope_again(old_schema):
    from django.core.management import call_command

    _, latest = old_schema
    migrate(latest)
    api_keys.api_key_create(name="partner", tenant=Tenant.objects.get(code="webuddy"))
    api_keys.api_key_create(name="orders", tenant=Tenant.objects.get(code="tmr"))

    call_command("migrate", "wallets", "0011_finance_group", verbosity=0)  # through the command: its hooks run too

    with connection.cursor() as cursor:
        cursor.execute("SELECT name, scope FROM wallets_apikey ORDER BY name")
        assert cursor.fetchall() == [("orders", "tmr"), ("partner", "webuddy")]
