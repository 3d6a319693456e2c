"""Each business's money can be read on its own: platform revenue, clearing and adjustments are per
tenant, no posting crosses tenants (the posting engines refuse it), and `reconcile` reports and
checks every tenant."""
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import make_user, make_wallet
from tests.invariants import assert_ledger_invariants
from tests.tmr.helpers import charge, signed_in
from tests.webuddy.helpers import create_user, funded_user
from wallets import ledger
from wallets.errors import DomainError
from wallets.models import Account, Tenant
from wallets.selectors import ledger_reconcile, system_account_balance
from wallets.services import accounts, postings
from wallets.tenants import tenant_create

pytestmark = pytest.mark.django_db
D = Decimal
REVENUE = Account.System.PLATFORM_REVENUE


def test_each_tenants_platform_revenue_holds_only_its_own_fees(webuddy_client, tmr_key_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    started = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 200},
                                  format="json").json()
    ended = webuddy_client.post("/v1/sessions/end", {"sessionId": started["id"], "expertId": expert["id"], "actualFee": 200},
                                format="json")
    buyer, buyer_user = signed_in()
    _, seller_user = signed_in()
    charge(buyer, 300)
    tmr_key_client.post("/api/v1/wallet/escrow/freeze",
                        {"user_id": buyer_user["id"], "order_id": "o-1", "amount": 150, "currency": "USD"}, format="json")
    released = tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": "o-1", "payee_id": seller_user["id"]},
                                   format="json")

    assert (ended.json()["platformFee"], released.json()["fee"]) == (20, 15)
    assert system_account_balance(tenant="webuddy", code=REVENUE, currency="INR") == D(20)
    assert system_account_balance(tenant="tmr", code=REVENUE, currency="USD") == D(15)
    assert system_account_balance(tenant="webuddy", code=REVENUE, currency="USD") == 0
    assert system_account_balance(tenant="tmr", code=REVENUE, currency="INR") == 0
    # Each tenant's clearing account holds only its own deposits.
    assert system_account_balance(tenant="webuddy", code=Account.System.GATEWAY_CLEARING, currency="INR") == D(-500)
    assert system_account_balance(tenant="tmr", code=Account.System.GATEWAY_CLEARING, currency="USD") == D(-300)

    report = ledger_reconcile()
    assert report.ok, report.problems
    assert set(report.tenants) == {"webuddy", "tmr"}
    assert report.tenants["webuddy"].sums == {"INR": 0} and report.tenants["tmr"].sums == {"USD": 0}
    assert report.tenants["webuddy"].transactions == 3  # the deposit, the hold, the settlement
    assert report.tenants["tmr"].transactions == 3  # deposit, freeze, release
    out = io.StringIO()
    call_command("reconcile", stdout=out)
    assert "tenant webuddy:" in out.getvalue() and "tenant tmr:" in out.getvalue()
    assert "OK: the ledger reconciles." in out.getvalue()
    out = io.StringIO()
    call_command("reconcile", "--json", stdout=out)
    assert json.loads(out.getvalue())["tenants"]["tmr"]["ok"] is True


def test_a_tenants_own_fee_rate_applies_to_its_releases(tmr_key_client):
    Tenant.objects.filter(code="tmr").update(platform_fee_percent=D("2.5"))
    buyer, buyer_user = signed_in()
    _, seller_user = signed_in()
    charge(buyer, 200)
    tmr_key_client.post("/api/v1/wallet/escrow/freeze",
                        {"user_id": buyer_user["id"], "order_id": "o-2", "amount": 100, "currency": "USD"}, format="json")

    released = tmr_key_client.post("/api/v1/wallet/escrow/release", {"order_id": "o-2", "payee_id": seller_user["id"]},
                                   format="json").json()

    assert (released["fee"], released["payout_amount"]) == (2.5, 97.5)
    assert system_account_balance(tenant="tmr", code=REVENUE, currency="USD") == D("2.5")


def test_the_posting_engine_refuses_a_posting_across_tenants():
    inr = make_wallet(currency="INR", balance=100)  # WeBuddy's
    acme = tenant_create(code="acme", name="Acme", dialect="webuddy", currencies=["INR"])
    other = accounts.wallet_create(user=make_user(tenant="acme"), currency="INR")
    legs_between_wallets = [
        ledger.Leg(account_id=inr.id, currency="INR", amount=D("-5"), type="debit"),
        ledger.Leg(account_id=other.id, currency="INR", amount=D("5"), type="credit"),
    ]
    legs_to_anothers_revenue = [
        ledger.Leg(account_id=inr.id, currency="INR", amount=D("-5"), type="debit"),
        ledger.Leg(account_id=ledger.system_account(acme.code, REVENUE, "INR"), currency="INR", amount=D("5"),
                   type="fee", is_wallet=False),
    ]
    for legs in (legs_between_wallets, legs_to_anothers_revenue):
        with pytest.raises(RuntimeError, match="cross tenants"):
            ledger.post(kind="transfer", legs=legs)
    inr.refresh_from_db()
    other.refresh_from_db()
    assert (inr.balance, other.balance) == (D(100), D(0))
    with pytest.raises(DomainError) as refused:
        postings.wallet_transfer(source=inr, destination=other, amount=D(5))
    assert refused.value.code.value == "wallet_not_found"
    assert_ledger_invariants()


def test_a_third_marketplace_is_a_row_and_a_key():
    acme = tenant_create(code="acme", name="Acme Consults", dialect="webuddy", currencies=["USD"], platform_fee_percent=D(5))
    assert Account.objects.filter(tenant=acme, kind="system").count() == len(Account.System.values) * 8
    out = io.StringIO()
    call_command("create_api_key", "acme backend", "--tenant", "acme", stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {out.getvalue().strip().splitlines()[-1]}")

    user = client.post("/v1/users", {"phoneNumber": "+14155550123", "name": "Ann"}, format="json").json()
    expert = client.post("/v1/users", {"phoneNumber": "+14155550124", "name": "Bo"}, format="json").json()
    client.post("/v1/wallet/recharge", {"userId": user["id"], "amount": 100, "paymentMethod": "STRIPE"}, format="json")
    session = client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 40},
                          format="json").json()
    ended = client.post("/v1/sessions/end", {"sessionId": session["id"], "expertId": expert["id"], "actualFee": 40},
                        format="json").json()

    assert user["wallet"]["currency"] == "USD"
    assert (ended["platformFee"], ended["expertEarning"]) == (2, 38)
    assert system_account_balance(tenant="acme", code=REVENUE, currency="USD") == D(2)
    assert system_account_balance(tenant="tmr", code=REVENUE, currency="USD") == 0
    report = ledger_reconcile(record=False)
    assert report.ok and report.tenants["acme"].sums == {"USD": 0}


def test_reconcile_reports_a_transaction_that_crosses_tenants():
    tenant_create(code="acme", name="Acme", dialect="webuddy", currencies=["INR"])
    acme_revenue = ledger.system_account_id("acme", REVENUE, "INR", 0)
    webuddy_clearing = ledger.system_account_id("webuddy", Account.System.GATEWAY_CLEARING, "INR", 0)
    # Written past the posting engine, as only a bug could: balanced, but from one business to another.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wallets_journaltransaction (id, kind, description, metadata, created_at) "
            "VALUES (gen_random_uuid(), 'transfer', 'crossing', '{}', now()) RETURNING id"
        )
        crossing = cursor.fetchone()[0]
        for account, amount in ((acme_revenue, D("-5")), (webuddy_clearing, D("5"))):
            cursor.execute(
                "INSERT INTO wallets_entry (transaction_id, account_id, currency, bucket, amount, type, created_at) "
                "VALUES (%s, %s, 'INR', 0, %s, 'credit', now())", [crossing, account, amount],
            )

    report = ledger_reconcile(record=False)

    assert not report.ok
    assert {"problem": "transaction_crosses_tenants", "transaction": str(crossing)} in report.problems
    unbalanced = {(p["tenant"], p["sum"]) for p in report.problems if p["problem"] == "tenant_ledger_unbalanced"}
    assert unbalanced == {("acme", "-5.000000"), ("webuddy", "5.000000")}
    assert not report.tenants["acme"].ok and report.tenants["tmr"].ok


def test_the_default_currency_stays_once_the_tenant_has_wallets(webuddy_client):
    from wallets.tenants import tenant_update

    user = create_user(webuddy_client)
    webuddy = Tenant.objects.get(code="webuddy")
    with pytest.raises(DomainError) as refused:
        tenant_update(tenant=webuddy, name=webuddy.name, currencies=["USD", "INR"])
    assert "currencies" in refused.value.fields
    added = tenant_update(tenant=webuddy, name=webuddy.name, currencies=["INR", "USD"])
    assert added.currencies == ["INR", "USD"]
    assert webuddy_client.get(f"/v1/users/{user['id']}").json()["wallet"]["currency"] == "INR"


def test_staff_never_sign_in_to_the_tmr_wallet_even_with_a_tenant():
    from tests.tmr.helpers import PASSWORD, register

    user = register()
    from wallets.models import User

    User.objects.filter(pk=user["id"]).update(is_staff=True)
    response = APIClient().post("/api/v1/auth/token", {"username": user["username"], "password": PASSWORD}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
