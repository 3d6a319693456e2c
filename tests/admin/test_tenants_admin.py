"""Tenants in the back office: every money list shows and filters by tenant; a superuser adds a
marketplace as a row (its system accounts follow at once), Finance only reads them."""
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.admin.builders import expert_with_bank, kyc_applicant
from tests.factories import make_wallet
from tests.tmr.helpers import charge, signed_in
from tests.webuddy.helpers import funded_user
from wallets.models import Account, Tenant

pytestmark = pytest.mark.django_db
D = Decimal

# list -> the query parameter of its tenant filter
TENANT_FILTERS = {
    "wallets_user": "tenant__code__exact",
    "wallets_account": "tenant__code__exact",
    "wallets_journaltransaction": "tenant",
    "wallets_entry": "account__tenant__code__exact",
    "wallets_escrow": "tenant__code__exact",
    "wallets_recharge": "account__tenant__code__exact",
    "wallets_apikey": "tenant__code__exact",
    "kyc_kycsubmission": "user__tenant__code__exact",
    "payouts_payout": "wallet__tenant__code__exact",
    "sessions_app_consultationsession": "wallet__tenant__code__exact",
    "experts_bankdetail": "expert__tenant__code__exact",
    "experts_expertprofile": "user__tenant__code__exact",
}


@pytest.fixture
def both_tenants(webuddy_client, tmr_key_client):
    user, expert = funded_user(webuddy_client, 500), funded_user(webuddy_client, 0)
    webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 50}, format="json")
    _, wallet, _ = expert_with_bank(balance=300)
    buyer, buyer_user = signed_in()
    charge(buyer, 100)
    tmr_key_client.post("/api/v1/wallet/escrow/freeze",
                        {"user_id": buyer_user["id"], "order_id": "o-1", "amount": 10, "currency": "USD"}, format="json")
    kyc_applicant()
    return wallet


@pytest.mark.parametrize(("name", "parameter"), TENANT_FILTERS.items())
def test_every_money_list_filters_by_tenant(name, parameter, finance_client, both_tenants):
    url = reverse(f"admin:{name}_changelist")
    everything = finance_client.get(url)
    assert everything.status_code == 200
    counts = {}
    for code in ("webuddy", "tmr"):
        response = finance_client.get(url, {parameter: code})
        assert response.status_code == 200 and "?e=1" not in response.get("Location", "")
        counts[code] = response.context["cl"].result_count
    total = everything.context["cl"].result_count
    if name == "wallets_user":  # staff belong to no tenant
        assert counts["webuddy"] + counts["tmr"] < total
    else:
        assert counts["webuddy"] + counts["tmr"] == total
    assert "tenant" in everything.content.decode().lower()


def test_the_wallet_list_splits_by_tenant(finance_client, both_tenants):
    url = reverse("admin:wallets_account_changelist")
    tmr = finance_client.get(url, {"tenant__code__exact": "tmr", "kind__exact": "wallet"}).context["cl"].result_list
    webuddy = finance_client.get(url, {"tenant__code__exact": "webuddy", "kind__exact": "wallet"}).context["cl"].result_list
    assert {a.currency for a in tmr} == {"USD"} and {a.currency for a in webuddy} == {"INR"}
    assert both_tenants in webuddy


def test_a_superuser_adds_a_marketplace_and_its_system_accounts_follow(superuser_client):
    response = superuser_client.post(reverse("admin:wallets_tenant_add"), {
        "code": "acme", "name": "Acme Consults", "dialect": "webuddy", "currencies": "usd, INR", "platform_fee_percent": "7.5",
    })

    assert response.status_code == 302, response.content.decode()[:2000]
    acme = Tenant.objects.get(code="acme")
    assert (acme.currencies, acme.platform_fee_percent) == (["USD", "INR"], D("7.5"))
    assert Account.objects.filter(tenant=acme, kind="system").count() == 2 * len(Account.System.values) * 8


@pytest.mark.parametrize(("field", "value"), [("code", "Not A Code"), ("currencies", "EUR"), ("currencies", "INR, INR"),
                                              ("platform_fee_percent", "150")])
def test_a_marketplace_with_bad_fields_is_not_added(superuser_client, field, value):
    data = {"code": "acme", "name": "Acme", "dialect": "webuddy", "currencies": "INR", "platform_fee_percent": "", field: value}
    response = superuser_client.post(reverse("admin:wallets_tenant_add"), data)
    assert response.status_code == 200
    assert not Tenant.objects.filter(code="acme").exists() and not Tenant.objects.filter(code=value).exists()


def test_finance_reads_tenants_but_cannot_add_or_change_them(finance_client):
    assert finance_client.get(reverse("admin:wallets_tenant_changelist")).status_code == 200
    assert finance_client.get(reverse("admin:wallets_tenant_add")).status_code == 403
    response = finance_client.post(reverse("admin:wallets_tenant_change", args=["tmr"]),
                                   {"name": "Renamed", "currencies": "USD"})
    assert response.status_code == 403
    assert Tenant.objects.get(code="tmr").name == "TMR Land"
    make_wallet(currency="USD")  # still opens in USD
