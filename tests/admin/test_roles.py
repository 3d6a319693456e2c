"""Who may open what in the back office: Finance can do its job, other staff see nothing
money-related, and nobody edits a ledger row."""
import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from tests.admin.builders import expert_with_bank, kyc_applicant
from tests.factories import make_wallet
from wallets.models import Entry, JournalTransaction
from wallets.roles import FINANCE_GROUP, FINANCE_PERMISSIONS

pytestmark = pytest.mark.django_db

LISTS = [
    "wallets_tenant", "wallets_gatewayevent", "wallets_user", "wallets_account", "wallets_journaltransaction", "wallets_entry", "wallets_escrow",
    "wallets_recharge", "wallets_reconcilerun", "wallets_apikey", "kyc_kycsubmission", "payouts_payout",
    "sessions_app_consultationsession", "experts_bankdetail", "experts_expertprofile",
]
PAGES = ["admin:wallets_account_adjust", "admin:payouts_payout_run_monthly", "admin:wallets_apikey_add"]


def test_the_finance_group_has_exactly_the_back_office_permissions():
    group = Group.objects.get(name=FINANCE_GROUP)
    granted = {(p.content_type.app_label, p.codename) for p in group.permissions.select_related("content_type")}
    assert granted == FINANCE_PERMISSIONS
    assert not any(codename.startswith("delete_") for _, codename in granted)


@pytest.mark.parametrize("name", LISTS)
def test_finance_opens_every_list_and_plain_staff_none(name, finance_client, staff_client):
    url = reverse(f"admin:{name}_changelist")
    assert finance_client.get(url).status_code == 200
    assert staff_client.get(url).status_code == 403


@pytest.mark.parametrize("name", PAGES)
def test_finance_opens_the_action_pages_and_plain_staff_none(name, finance_client, staff_client):
    assert finance_client.get(reverse(name)).status_code == 200
    assert staff_client.get(reverse(name)).status_code == 403


def test_plain_staff_gets_no_detail_page_no_action_and_no_dashboard(finance_client, staff_client):
    wallet = make_wallet(balance=50)
    submission = kyc_applicant()

    for url in (
        reverse("admin:wallets_account_change", args=[wallet.pk]),
        reverse("admin:kyc_kycsubmission_change", args=[submission.pk]),
        reverse("admin:kyc_kycsubmission_approve", args=[submission.pk]),
    ):
        assert staff_client.get(url).status_code == 403, url
        assert finance_client.get(url).status_code == 200, url
    posted = staff_client.post(
        reverse("admin:kyc_kycsubmission_changelist"),
        {"action": "approve_submissions", "_selected_action": [submission.pk], "confirm": "yes", "reason": ""},
    )
    assert posted.status_code == 403
    submission.refresh_from_db()
    assert submission.status == "pending"

    staff_index = staff_client.get(reverse("admin:index")).content.decode()
    finance_index = finance_client.get(reverse("admin:index")).content.decode()
    assert "finance-dashboard" not in staff_index and "Payouts" not in staff_index
    assert "finance-dashboard" in finance_index and "Payouts" in finance_index


def test_plain_staff_cannot_post_an_adjustment_or_run_payouts(staff_client):
    wallet = make_wallet(balance=50)
    adjusted = staff_client.post(
        reverse("admin:wallets_account_adjust"),
        {"wallet": wallet.pk, "direction": "credit", "amount": "10", "reason": "try"},
    )
    run = staff_client.post(reverse("admin:payouts_payout_run_monthly"), {"month": "2020-01", "pay": "1"})
    assert (adjusted.status_code, run.status_code) == (403, 403)
    wallet.refresh_from_db()
    assert wallet.balance == 50


@pytest.mark.parametrize("who", ["finance_client", "superuser_client"])
def test_nobody_adds_changes_or_deletes_a_ledger_row(who, request):
    client = request.getfixturevalue(who)
    wallet = make_wallet(balance=10)
    txn = JournalTransaction.objects.filter(entries__account=wallet).get()
    entry = Entry.objects.filter(account=wallet).get()

    assert client.get(reverse("admin:wallets_journaltransaction_changelist")).status_code == 200
    assert client.get(reverse("admin:wallets_entry_changelist")).status_code == 200
    for model in ("journaltransaction", "entry"):
        assert client.get(reverse(f"admin:wallets_{model}_add")).status_code == 403
    assert client.get(reverse("admin:wallets_entry_delete", args=[entry.pk])).status_code == 403
    assert client.post(reverse("admin:wallets_journaltransaction_delete", args=[txn.pk]), {"post": "yes"}).status_code == 403
    edit = client.post(reverse("admin:wallets_journaltransaction_change", args=[txn.pk]), {"description": "edited"})
    assert edit.status_code == 403
    listing = client.get(reverse("admin:wallets_entry_changelist")).content.decode()
    assert "delete_selected" not in listing
    txn.refresh_from_db()
    assert txn.description != "edited" and Entry.objects.filter(pk=entry.pk).exists()


def test_account_and_id_numbers_are_masked_on_every_screen(finance_client):
    submission = kyc_applicant(number="310101199001011234")
    expert, _, bank = expert_with_bank(name="Ravi")

    pages = [
        reverse("admin:kyc_kycsubmission_changelist"),
        reverse("admin:kyc_kycsubmission_change", args=[submission.pk]),
        reverse("admin:kyc_kycsubmission_reject", args=[submission.pk]),
        reverse("admin:experts_bankdetail_changelist"),
        reverse("admin:experts_bankdetail_change", args=[bank.pk]),
    ]
    for url in pages:
        html = finance_client.get(url).content.decode()
        assert "310101199001011234" not in html and "50100012345678" not in html, url
        assert submission.id_number_encrypted not in html and bank.account_number_encrypted not in html, url
    assert "310101****1234" in finance_client.get(pages[0]).content.decode()
    assert "****5678" in finance_client.get(pages[3]).content.decode()
