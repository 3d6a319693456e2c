"""Balance of a wallet as of any moment, from its entries."""
from decimal import Decimal

import pytest

from tests.factories import make_wallet
from wallets import services
from wallets.models import Entry
from wallets.selectors import wallet_balance_at, wallet_balance_at_from_sums

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_engine")]
D = Decimal


def test_balance_at_each_moment_of_the_wallets_history():
    wallet = make_wallet()
    other = make_wallet()
    moments = []
    for step in (
        lambda: services.wallet_deposit(wallet=wallet, amount=D("100")),
        lambda: services.hold_place(wallet=wallet, amount=D("30")),
        lambda: services.wallet_transfer(source=wallet, destination=other, amount=D("20")),
        lambda: services.wallet_withdraw(wallet=wallet, amount=D("50")),
    ):
        step()
        moments.append(Entry.objects.filter(account=wallet).order_by("-id").values_list("created_at", flat=True)[0])

    expected = [(D("100"), D("0")), (D("100"), D("30")), (D("80"), D("30")), (D("30"), D("30"))]
    for at, want in zip(moments, expected):
        assert wallet_balance_at(wallet=wallet, at=at) == want
        assert wallet_balance_at_from_sums(wallet=wallet, at=at) == want
    before_anything = moments[0].replace(year=2000)
    assert wallet_balance_at(wallet=wallet, at=before_anything) == (D("0"), D("0"))
