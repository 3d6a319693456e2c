"""Payouts in the back office: totals per status, retry a failed payout, cancel a pending one (its
hold released), and the monthly run: preview first, then pay, the same code as the command."""
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from payouts.models import Payout
from tests.admin.builders import (
    FailingGateway,
    UnreachableGateway,
    expert_with_bank,
    payout_with_gateway,
    unsent_payout,
)
from wallets.models import Account, Hold

pytestmark = pytest.mark.django_db
D = Decimal
CHANGELIST = "admin:payouts_payout_changelist"
RUN = "admin:payouts_payout_run_monthly"


def act(client, name, payouts, reason):
    return client.post(
        reverse(CHANGELIST),
        {"action": name, "_selected_action": [p.pk for p in payouts], "confirm": "yes", "reason": reason},
    )


def test_the_list_totals_each_status_and_filters(finance_client, monkeypatch):
    expert, _, bank = expert_with_bank(balance=1000)
    payout_with_gateway(monkeypatch, FailingGateway, expert=expert, bank=bank, amount=100)
    payout_with_gateway(monkeypatch, FailingGateway, expert=expert, bank=bank, amount=50)
    payout_with_gateway(monkeypatch, UnreachableGateway, expert=expert, bank=bank, amount=25)

    everything = finance_client.get(reverse(CHANGELIST))
    failed = finance_client.get(reverse(CHANGELIST), {"status__exact": "failed"})

    totals = {(row["status"], row["currency"]): (row["count"], row["total"]) for row in everything.context["status_totals"]}
    assert totals == {("failed", "INR"): (2, D(150)), ("pending", "INR"): (1, D(25))}
    assert [row["status"] for row in failed.context["status_totals"]] == ["failed"]
    assert len(failed.context["cl"].result_list) == 2
    assert "Run monthly payouts" in everything.content.decode()


def test_retry_makes_a_new_attempt_for_a_failed_payout(finance_client, finance_user, monkeypatch):
    expert, wallet, bank = expert_with_bank(balance=1000)
    failed = payout_with_gateway(monkeypatch, FailingGateway, expert=expert, bank=bank, amount=300)
    assert failed.status == "failed"

    response = act(finance_client, "retry_payouts", [failed], "Bank account reopened")

    assert response.status_code == 302
    retry = Payout.objects.get(retry_of=failed)
    assert (retry.status, retry.amount, retry.bank_account_id) == ("paid", D(300), bank.pk)
    wallet.refresh_from_db()
    assert (wallet.balance, wallet.held_balance) == (D(700), D(0))
    log = LogEntry.objects.get(object_id=str(retry.pk))
    assert log.user == finance_user and log.change_message == "Retried. Reason: Bank account reopened"


def test_retry_is_refused_for_a_paid_payout_and_for_a_second_retry(finance_client, monkeypatch):
    expert, wallet, bank = expert_with_bank(balance=1000)
    failed = payout_with_gateway(monkeypatch, FailingGateway, expert=expert, bank=bank, amount=100)
    act(finance_client, "retry_payouts", [failed], "first")
    paid = Payout.objects.get(retry_of=failed)

    again = act(finance_client, "retry_payouts", [failed, paid], "again")

    messages = [str(m) for m in again.wsgi_request._messages]
    assert any("already been retried" in m for m in messages)
    assert any("Only failed payouts can be retried" in m for m in messages)
    assert Payout.objects.count() == 2
    wallet.refresh_from_db()
    assert wallet.balance == D(900)


def test_cancel_releases_a_pending_payout_and_refuses_others(finance_client, finance_user, monkeypatch):
    expert, wallet, bank = expert_with_bank(balance=1000)
    pending = unsent_payout(expert=expert, bank=bank, amount=400)
    wallet.refresh_from_db()
    assert (pending.status, wallet.held_balance) == ("pending", D(400))
    failed = payout_with_gateway(monkeypatch, FailingGateway, expert=expert, bank=bank, amount=10)

    act(finance_client, "cancel_payouts", [pending, failed], "Expert asked to stop it")

    pending.refresh_from_db()
    failed.refresh_from_db()
    wallet.refresh_from_db()
    assert (pending.status, pending.failure_reason) == ("cancelled", "Expert asked to stop it")
    assert failed.status == "failed"
    assert (wallet.balance, wallet.held_balance) == (D(1000), D(0))
    assert Hold.objects.get(pk=pending.hold_id).status == "released"
    assert LogEntry.objects.get(object_id=str(pending.pk)).user == finance_user


def test_a_payout_sent_to_the_gateway_is_not_cancelled_while_it_may_be_paid(finance_client, monkeypatch):
    expert, wallet, bank = expert_with_bank(balance=1000)
    unanswered = payout_with_gateway(monkeypatch, UnreachableGateway, expert=expert, bank=bank, amount=400)
    assert (unanswered.status, unanswered.submitted_at is not None) == ("pending", True)

    act(finance_client, "cancel_payouts", [unanswered], "Expert asked to stop it")

    unanswered.refresh_from_db()
    wallet.refresh_from_db()
    assert unanswered.status == "pending" and wallet.held_balance == D(400)
    assert Hold.objects.get(pk=unanswered.hold_id).status == "active"


def test_cancel_needs_a_reason(finance_client, monkeypatch):
    expert, _, bank = expert_with_bank(balance=100)
    pending = unsent_payout(expert=expert, bank=bank, amount=40)

    response = act(finance_client, "cancel_payouts", [pending], "")

    assert response.status_code == 200 and b"This field is required" in response.content
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_monthly_run_previews_then_pays_like_the_command(finance_client, finance_user):
    ravi, ravi_wallet, _ = expert_with_bank(earned_last_month=1200, name="Ravi")
    meena, meena_wallet, _ = expert_with_bank(earned_last_month=300, name="Meena")
    page = finance_client.get(reverse(RUN))
    month = page.context["form"].initial["month"]

    preview = finance_client.post(reverse(RUN), {"month": month, "threshold": "500", "dry_run": "on"})

    rows = {row["expert"]: row for row in preview.context["rows"]}
    assert (rows[str(ravi.pk)]["result"], rows[str(ravi.pk)]["amount"]) == ("would_pay", D(1200))
    assert rows[str(meena.pk)]["result"] == "below_threshold"
    assert b"Pay 1 expert(s) now" not in preview.content  # a dry run offers no button
    assert Payout.objects.count() == 0

    confirm_page = finance_client.post(reverse(RUN), {"month": month, "threshold": "500"})
    assert b"Pay 1 expert(s) now" in confirm_page.content
    assert Payout.objects.count() == 0

    paid = finance_client.post(reverse(RUN), {"month": month, "threshold": "500", "pay": "Pay"})

    assert paid.context["stage"] == "done"
    payout = Payout.objects.get()
    assert (payout.expert_id, payout.amount, payout.status, payout.kind, payout.month) == (ravi.pk, D(1200), "paid", "monthly", month)
    ravi_wallet.refresh_from_db()
    meena_wallet.refresh_from_db()
    assert (ravi_wallet.balance, meena_wallet.balance) == (D(0), D(300))
    log = LogEntry.objects.get(user=finance_user)
    assert f"Ran monthly payouts for {month}" in log.change_message and "paid: 1" in log.change_message

    again = finance_client.post(reverse(RUN), {"month": month, "threshold": "500", "pay": "Pay"})
    assert {row["result"] for row in again.context["rows"]} == {"already_paid", "below_threshold"}
    assert Payout.objects.count() == 1


@pytest.mark.clock
def test_monthly_run_refuses_a_month_that_has_not_ended(finance_client):
    from django.utils import timezone

    this_month = timezone.now().strftime("%Y-%m")
    response = finance_client.post(reverse(RUN), {"month": this_month, "pay": "Pay"})

    assert "has not ended yet" in response.content.decode()
    assert Payout.objects.count() == 0
    assert not Account.objects.filter(held_balance__gt=0).exists()
