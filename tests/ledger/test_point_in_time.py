"""Balance of a wallet as of any moment, from its entries."""
from decimal import Decimal

import pytest

from tests import holds as in_txn
from tests.factories import make_wallet
from wallets.models import Entry
from wallets.selectors import wallet_balance_at, wallet_balance_at_from_sums
from wallets.services import postings

pytestmark = pytest.mark.django_db
D = Decimal


def test_balance_at_each_moment_of_the_wallets_history():
    wallet = make_wallet()
    other = make_wallet()
    moments = []
    for step in (
        lambda: postings.wallet_deposit(wallet=wallet, amount=D("100")),
        lambda: in_txn.place(wallet=wallet, amount=D("30")),
        lambda: postings.wallet_transfer(source=wallet, destination=other, amount=D("20")),
        lambda: postings.wallet_withdraw(wallet=wallet, amount=D("50")),
    ):
        step()
        moments.append(Entry.objects.filter(account=wallet).order_by("-id").values_list("created_at", flat=True)[0])

    expected = [(D("100"), D("0")), (D("100"), D("30")), (D("80"), D("30")), (D("30"), D("30"))]
    for at, want in zip(moments, expected):
        assert wallet_balance_at(wallet=wallet, at=at) == want
        assert wallet_balance_at_from_sums(wallet=wallet, at=at) == want
    before_anything = moments[0].replace(year=2000)
    assert wallet_balance_at(wallet=wallet, at=before_anything) == (D("0"), D("0"))


def test_imported_history_is_a_past_balance_before_every_live_line():
    from datetime import timedelta

    from django.utils import timezone

    from tests.invariants import assert_ledger_invariants
    from wallets.services.history import wallet_history_import

    wallet = make_wallet(currency="INR")
    month_ago = timezone.now() - timedelta(days=30)
    wallet_history_import(wallet=wallet, amount=D("700"), at=month_ago - timedelta(days=1))
    wallet_history_import(wallet=wallet, amount=D("300"), at=month_ago)
    postings.wallet_deposit(wallet=wallet, amount=D("5"))

    assert wallet_balance_at(wallet=wallet, at=month_ago - timedelta(hours=1)) == (D("700"), D("0"))
    assert wallet_balance_at(wallet=wallet, at=month_ago + timedelta(hours=1)) == (D("1000"), D("0"))
    wallet.refresh_from_db()
    assert wallet.balance == D("1005")
    with pytest.raises(ValueError, match="oldest first"):
        wallet_history_import(wallet=wallet, amount=D("1"), at=month_ago - timedelta(days=2))
    with pytest.raises(ValueError, match="in the past"):
        wallet_history_import(wallet=make_wallet(currency="INR"), amount=D("1"), at=timezone.now() + timedelta(hours=1))
    assert_ledger_invariants()
