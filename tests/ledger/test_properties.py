"""Random sequences of money operations against a plain model of what the balances should be.

After every step: every transaction sums to zero per currency, all accounts of a currency sum to
zero, cached balances equal their entries, no wallet is below its credit limit, and each wallet
matches the model (a refused operation changes nothing).
"""
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests import holds as in_txn
from tests.factories import make_wallet
from tests.invariants import assert_ledger_invariants
from wallets.errors import DomainError, ErrorCode
from wallets.models import Hold
from wallets.services import postings
from wallets.services.holds import Payee

D = Decimal
amounts = st.decimals(min_value=D("0.01"), max_value=D("500"), places=2)
N_WALLETS = 3


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def open_wallets(self):
        self.wallets = [make_wallet(currency="INR", credit_limit=D(limit)) for limit in ("0", "0", "100")]
        self.model = {w.id: {"balance": D(0), "held": D(0), "limit": w.credit_limit} for w in self.wallets}
        self.holds: list[tuple] = []  # (hold_id, wallet_id, remaining)

    def available(self, wallet):
        m = self.model[wallet.id]
        return m["balance"] - m["held"]

    def expect(self, allowed: bool, call, code=ErrorCode.INSUFFICIENT_BALANCE):
        if allowed:
            return call()
        with pytest.raises(DomainError) as err:
            call()
        assert err.value.code == code
        return None

    @rule(i=st.integers(0, N_WALLETS - 1), amount=amounts)
    def deposit(self, i, amount):
        wallet = self.wallets[i]
        postings.wallet_deposit(wallet=wallet, amount=amount)
        self.model[wallet.id]["balance"] += amount

    @rule(i=st.integers(0, N_WALLETS - 1), amount=amounts)
    def withdraw(self, i, amount):
        wallet = self.wallets[i]
        ok = amount <= self.available(wallet)
        if self.expect(ok, lambda: postings.wallet_withdraw(wallet=wallet, amount=amount)):
            self.model[wallet.id]["balance"] -= amount

    @rule(i=st.integers(0, N_WALLETS - 1), j=st.integers(0, N_WALLETS - 1), amount=amounts)
    def transfer(self, i, j, amount):
        if i == j:
            return
        source, destination = self.wallets[i], self.wallets[j]
        ok = amount <= self.available(source)
        if self.expect(ok, lambda: postings.wallet_transfer(source=source, destination=destination, amount=amount)):
            self.model[source.id]["balance"] -= amount
            self.model[destination.id]["balance"] += amount

    @rule(i=st.integers(0, N_WALLETS - 1), amount=amounts)
    def hold(self, i, amount):
        wallet = self.wallets[i]
        ok = amount <= self.available(wallet)
        hold = self.expect(ok, lambda: in_txn.place(wallet=wallet, amount=amount))
        if hold is not None:
            self.model[wallet.id]["held"] += amount
            self.holds.append((hold.id, wallet.id, amount))

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), payee=st.integers(0, N_WALLETS - 1), fee=st.booleans())
    def capture(self, data, payee, fee):
        index = data.draw(st.integers(0, len(self.holds) - 1))
        hold_id, wallet_id, remaining = self.holds[index]
        amount = data.draw(st.decimals(min_value=D("0.01"), max_value=remaining + D("1"), places=2))
        target = self.wallets[payee]
        if target.id == wallet_id:
            return  # paying a hold to its own wallet is refused (tested separately)
        payees = [Payee(amount=amount, type="credit", wallet=target)]
        if fee:
            payees.append(Payee(amount=D("0.01"), type="fee", system="platform_revenue"))
        total = amount + (D("0.01") if fee else 0)
        ok = total <= remaining
        if self.expect(ok, lambda: in_txn.capture(hold_id=hold_id, payees=payees), ErrorCode.CAPTURE_EXCEEDS_HOLD):
            self.model[wallet_id]["balance"] -= total
            self.model[wallet_id]["held"] -= total
            self.model[target.id]["balance"] += amount
            left = remaining - total
            if left:
                self.holds[index] = (hold_id, wallet_id, left)
            else:
                self.holds.pop(index)

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def release(self, data):
        index = data.draw(st.integers(0, len(self.holds) - 1))
        hold_id, wallet_id, remaining = self.holds.pop(index)
        in_txn.release(hold_id=hold_id)
        self.model[wallet_id]["held"] -= remaining
        assert Hold.objects.get(pk=hold_id).remaining == 0
        self.expect(False, lambda: in_txn.release(hold_id=hold_id), ErrorCode.HOLD_NOT_ACTIVE)

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), payee=st.integers(0, N_WALLETS - 1))
    def settle_using_credit(self, data, payee):
        index = data.draw(st.integers(0, len(self.holds) - 1))
        hold_id, wallet_id, remaining = self.holds[index]
        amount = data.draw(st.decimals(min_value=D("0"), max_value=remaining + D("150"), places=2))
        target = self.wallets[payee]
        if target.id == wallet_id:
            return
        m = self.model[wallet_id]
        ok = (m["balance"] - m["held"]) + remaining - amount >= -m["limit"]
        settle = lambda: in_txn.settle(  # noqa: E731
            hold_id=hold_id, amount=amount, payees=[Payee(amount=amount, type="credit", wallet=target)], use_credit=True
        )
        if self.expect(ok, settle):
            m["balance"] -= amount
            m["held"] -= remaining
            self.model[target.id]["balance"] += amount
            self.holds.pop(index)

    @invariant()
    def ledger_holds_together(self):
        if not hasattr(self, "wallets"):
            return
        assert_ledger_invariants()
        for wallet in self.wallets:
            wallet.refresh_from_db()
            m = self.model[wallet.id]
            assert (wallet.balance, wallet.held_balance) == (m["balance"], m["held"])


@pytest.mark.django_db
def test_random_operation_sequences_keep_every_ledger_invariant():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            report_multiple_bugs=False,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
