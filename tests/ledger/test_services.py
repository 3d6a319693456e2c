"""Every money service: what it posts when it succeeds, and that each refusal changes nothing."""
from decimal import Decimal

import pytest

from tests import holds as in_txn
from tests.factories import make_user, make_wallet
from tests.invariants import assert_ledger_invariants
from wallets.errors import DomainError, ErrorCode
from wallets.models import Account, Entry, Hold, JournalTransaction
from wallets.selectors import system_account_balance
from wallets.services import accounts, postings
from wallets.services.adjustments import wallet_adjust
from wallets.services.holds import Payee

pytestmark = pytest.mark.django_db
D = Decimal


def entries_of(posted_or_txn_id):
    txn_id = getattr(posted_or_txn_id, "transaction_id", posted_or_txn_id)
    return list(Entry.objects.filter(transaction_id=txn_id).order_by("id"))


def state(wallet):
    wallet.refresh_from_db()
    return wallet.balance, wallet.held_balance


def assert_refused(code, fn, *wallets):
    before = [state(w) for w in wallets]
    txns = JournalTransaction.objects.count()
    with pytest.raises(DomainError) as err:
        fn()
    assert err.value.code == code
    assert [state(w) for w in wallets] == before
    assert JournalTransaction.objects.count() == txns
    assert_ledger_invariants()


def test_deposit_credits_the_wallet_from_gateway_clearing():
    wallet = make_wallet(currency="INR")

    posted = postings.wallet_deposit(wallet=wallet, amount=D("500.25"), description="Recharge")

    assert state(wallet) == (D("500.25"), D("0"))
    assert posted.balance(wallet.id) == D("500.25")
    legs = entries_of(posted)
    assert [(e.amount, e.type, e.balance_after) for e in legs] == [
        (D("-500.25"), "deposit", None),
        (D("500.25"), "deposit", D("500.25")),
    ]
    assert legs[0].account.system_code == Account.System.GATEWAY_CLEARING
    assert system_account_balance(tenant="webuddy", code=Account.System.GATEWAY_CLEARING, currency="INR") == D("-500.25")
    assert_ledger_invariants()


def test_withdraw_debits_available_balance_to_payout_clearing():
    wallet = make_wallet(balance=100)

    postings.wallet_withdraw(wallet=wallet, amount=D("40"))

    assert state(wallet) == (D("60"), D("0"))
    assert system_account_balance(tenant="webuddy", code=Account.System.PAYOUT_CLEARING, currency="INR") == D("40")
    assert_ledger_invariants()


def test_withdraw_more_than_available_is_refused():
    wallet = make_wallet(balance=100)
    in_txn.place(wallet=wallet, amount=D("70"))

    assert_refused(
        ErrorCode.INSUFFICIENT_BALANCE, lambda: postings.wallet_withdraw(wallet=wallet, amount=D("30.01")), wallet
    )


def test_withdraw_and_hold_never_use_the_credit_limit():
    wallet = make_wallet(balance=10, credit_limit=D("50"))

    assert_refused(ErrorCode.INSUFFICIENT_BALANCE, lambda: postings.wallet_withdraw(wallet=wallet, amount=D("10.01")), wallet)
    assert_refused(ErrorCode.INSUFFICIENT_BALANCE, lambda: in_txn.place(wallet=wallet, amount=D("10.01")), wallet)


def test_settlement_may_use_the_credit_limit_and_no_more():
    wallet = make_wallet(balance=10, credit_limit=D("50"))
    payee = make_wallet()
    hold = in_txn.place(wallet=wallet, amount=D("10"))

    assert_refused(
        ErrorCode.INSUFFICIENT_BALANCE,
        lambda: in_txn.settle(hold_id=hold.id, amount=D("60.01"), payees=[Payee(amount=D("60.01"), type="credit", wallet=payee)], use_credit=True),
        wallet,
        payee,
    )
    assert_refused(
        ErrorCode.INSUFFICIENT_BALANCE,
        lambda: in_txn.settle(hold_id=hold.id, amount=D("10.01"), payees=[Payee(amount=D("10.01"), type="credit", wallet=payee)]),
        wallet,
        payee,
    )
    in_txn.settle(hold_id=hold.id, amount=D("60"), payees=[Payee(amount=D("60"), type="credit", wallet=payee)], use_credit=True)

    assert state(wallet) == (D("-50"), D("0"))
    assert state(payee) == (D("60"), D("0"))
    assert Hold.objects.get(pk=hold.id).status == Hold.Status.CAPTURED
    assert_refused(ErrorCode.INSUFFICIENT_BALANCE, lambda: postings.wallet_withdraw(wallet=wallet, amount=D("0.01")), wallet)
    postings.wallet_deposit(wallet=wallet, amount=D("20"))  # a deposit is welcome while in debt
    assert state(wallet) == (D("-30"), D("0"))
    assert_ledger_invariants()


def test_settlement_below_the_hold_releases_the_rest_in_the_same_transaction():
    wallet = make_wallet(balance=100)
    payee = make_wallet()
    hold = in_txn.place(wallet=wallet, amount=D("80"))

    _, posted = in_txn.settle(hold_id=hold.id,
        amount=D("30"),
        payees=[Payee(amount=D("27"), type="credit", wallet=payee), Payee(amount=D("3"), type="fee", system="platform_revenue")],
    )

    assert state(wallet) == (D("70"), D("0"))
    assert state(payee) == (D("27"), D("0"))
    assert len({e.transaction_id for e in Entry.objects.filter(transaction_id=posted.transaction_id)}) == 1
    hold.refresh_from_db()
    assert (hold.captured, hold.released) == (D("30"), D("50"))
    assert_ledger_invariants()


@pytest.mark.parametrize(
    ("currency", "amount"),
    [
        ("INR", D("1.001")),
        ("USD", D("0.123")),
        ("USDC", D("0.0000001")),
        ("INR", D("0")),
        ("INR", D("-5")),
        ("INR", D("NaN")),
        ("INR", D("Infinity")),
        ("INR", D("1000000000000.01")),
        ("INR", "10"),
        ("INR", 10.5),
        ("INR", True),
    ],
)
@pytest.mark.parametrize("operation", ["deposit", "withdraw", "transfer", "hold"])
def test_bad_amounts_are_refused_not_rounded(currency, amount, operation):
    wallet = make_wallet(currency=currency, balance=100)
    other = make_wallet(currency=currency)
    calls = {
        "deposit": lambda: postings.wallet_deposit(wallet=wallet, amount=amount),
        "withdraw": lambda: postings.wallet_withdraw(wallet=wallet, amount=amount),
        "transfer": lambda: postings.wallet_transfer(source=wallet, destination=other, amount=amount),
        "hold": lambda: in_txn.place(wallet=wallet, amount=amount),
    }

    assert_refused(ErrorCode.VALIDATION_ERROR, calls[operation], wallet, other)


def test_usdc_keeps_six_decimals_exactly():
    wallet = make_wallet(currency="USDC")

    postings.wallet_deposit(wallet=wallet, amount=D("0.000001"))
    postings.wallet_deposit(wallet=wallet, amount=D("999999999999.999999"))

    assert state(wallet) == (D("1000000000000.000000"), D("0"))
    assert_ledger_invariants()


def test_transfer_moves_money_between_wallets():
    source = make_wallet(balance=100)
    destination = make_wallet()

    posted = postings.wallet_transfer(source=source, destination=destination, amount=D("30.50"))

    assert state(source) == (D("69.50"), D("0"))
    assert state(destination) == (D("30.50"), D("0"))
    assert {(e.account_id, e.type) for e in entries_of(posted)} == {(source.id, "debit"), (destination.id, "credit")}
    assert_ledger_invariants()


def test_transfer_between_currencies_is_refused():
    source = make_wallet(balance=100, currency="USD")
    destination = make_wallet(currency="USDC")

    assert_refused(
        ErrorCode.CURRENCY_MISMATCH,
        lambda: postings.wallet_transfer(source=source, destination=destination, amount=D("1")),
        source,
        destination,
    )


def test_suspended_wallet_refuses_debits_deposits_and_holds():
    wallet = make_wallet(balance=100)
    other = make_wallet()
    accounts.wallet_suspend(wallet=wallet)

    for call in (
        lambda: postings.wallet_withdraw(wallet=wallet, amount=D("1")),
        lambda: postings.wallet_deposit(wallet=wallet, amount=D("1")),
        lambda: postings.wallet_transfer(source=wallet, destination=other, amount=D("1")),
        lambda: in_txn.place(wallet=wallet, amount=D("1")),
    ):
        assert_refused(ErrorCode.WALLET_SUSPENDED, call, wallet, other)

    accounts.wallet_reactivate(wallet=wallet)
    postings.wallet_withdraw(wallet=wallet, amount=D("1"))
    assert state(wallet) == (D("99"), D("0"))


def test_suspended_wallet_can_still_receive_a_transfer_and_have_holds_released():
    wallet = make_wallet(balance=100)
    hold = in_txn.place(wallet=wallet, amount=D("40"))
    accounts.wallet_suspend(wallet=wallet)

    postings.wallet_transfer(source=make_wallet(balance=5), destination=wallet, amount=D("5"))
    in_txn.release(hold_id=hold.id)

    assert state(wallet) == (D("105"), D("0"))
    assert_ledger_invariants()


def test_unknown_wallet_is_refused():
    ghost = Account(id="00000000-0000-0000-0000-000000000001", currency="INR", kind=Account.Kind.WALLET)

    with pytest.raises(DomainError) as err:
        postings.wallet_deposit(wallet=ghost, amount=D("1"))
    assert err.value.code == ErrorCode.WALLET_NOT_FOUND
    assert JournalTransaction.objects.count() == 0


def test_hold_moves_available_to_held_in_one_balanced_transaction():
    wallet = make_wallet(balance=100)

    hold = in_txn.place(wallet=wallet, amount=D("60"), reference_type="order", reference_id="o-1")

    assert state(wallet) == (D("100"), D("60"))
    legs = Entry.objects.filter(account=wallet, type="freeze").order_by("id")
    assert [(e.bucket, e.amount) for e in legs] == [(Entry.Bucket.AVAILABLE, D("-60")), (Entry.Bucket.HELD, D("60"))]
    assert hold.status == Hold.Status.ACTIVE and hold.remaining == D("60")
    assert_ledger_invariants()


def test_hold_beyond_available_is_refused():
    wallet = make_wallet(balance=100)
    in_txn.place(wallet=wallet, amount=D("60"))

    assert_refused(ErrorCode.INSUFFICIENT_BALANCE, lambda: in_txn.place(wallet=wallet, amount=D("40.01")), wallet)


def test_partial_capture_then_release_of_the_rest():
    buyer = make_wallet(balance=200)
    seller = make_wallet()
    hold = in_txn.place(wallet=buyer, amount=D("150"))

    in_txn.capture(hold_id=hold.id,
        payees=[Payee(amount=D("90"), type="credit", wallet=seller), Payee(amount=D("10"), type="fee", system="platform_revenue")],
    )
    hold.refresh_from_db()
    assert (hold.status, hold.captured, hold.remaining) == (Hold.Status.ACTIVE, D("100"), D("50"))
    assert state(buyer) == (D("100"), D("50"))

    in_txn.release(hold_id=hold.id)

    hold.refresh_from_db()
    assert (hold.status, hold.released, hold.remaining) == (Hold.Status.CAPTURED, D("50"), D("0"))
    assert state(buyer) == (D("100"), D("0"))
    assert state(seller) == (D("90"), D("0"))
    assert system_account_balance(tenant="webuddy", code="platform_revenue", currency="INR") == D("10")
    assert_ledger_invariants()


def test_capture_with_release_rest_settles_in_one_transaction():
    buyer = make_wallet(balance=100)
    seller = make_wallet()
    hold = in_txn.place(wallet=buyer, amount=D("80"))
    before = JournalTransaction.objects.count()

    in_txn.capture(hold_id=hold.id, payees=[Payee(amount=D("30"), type="credit", wallet=seller)], release_rest=True)

    assert JournalTransaction.objects.count() == before + 1
    assert state(buyer) == (D("70"), D("0"))
    assert state(seller) == (D("30"), D("0"))
    assert Hold.objects.get(pk=hold.id).status == Hold.Status.CAPTURED
    assert_ledger_invariants()


def test_capture_more_than_held_is_refused():
    buyer = make_wallet(balance=100)
    seller = make_wallet()
    hold = in_txn.place(wallet=buyer, amount=D("50"))

    assert_refused(
        ErrorCode.CAPTURE_EXCEEDS_HOLD,
        lambda: in_txn.capture(hold_id=hold.id, payees=[Payee(amount=D("50.01"), type="credit", wallet=seller)]),
        buyer,
        seller,
    )


def test_double_release_is_refused():
    wallet = make_wallet(balance=100)
    hold = in_txn.place(wallet=wallet, amount=D("50"))
    in_txn.release(hold_id=hold.id)

    assert_refused(ErrorCode.HOLD_NOT_ACTIVE, lambda: in_txn.release(hold_id=hold.id), wallet)
    assert Hold.objects.get(pk=hold.id).status == Hold.Status.RELEASED


def test_capture_after_release_is_refused():
    wallet = make_wallet(balance=100)
    hold = in_txn.place(wallet=wallet, amount=D("50"))
    in_txn.release(hold_id=hold.id)

    assert_refused(
        ErrorCode.HOLD_NOT_ACTIVE,
        lambda: in_txn.capture(hold_id=hold.id, payees=[Payee(amount=D("1"), type="fee", system="platform_revenue")]),
        wallet,
    )


def test_partial_release_keeps_the_rest_held():
    wallet = make_wallet(balance=100)
    hold = in_txn.place(wallet=wallet, amount=D("50"))

    in_txn.release(hold_id=hold.id, amount=D("20"))

    assert state(wallet) == (D("100"), D("30"))
    assert Hold.objects.get(pk=hold.id).remaining == D("30")
    assert_refused(ErrorCode.CAPTURE_EXCEEDS_HOLD, lambda: in_txn.release(hold_id=hold.id, amount=D("30.01")), wallet)


def test_reverse_posts_the_exact_opposite_once():
    source = make_wallet(balance=100)
    destination = make_wallet()
    posted = postings.wallet_transfer(source=source, destination=destination, amount=D("25"))
    staff = make_user(is_staff=True)

    reversal = postings.transaction_reverse(transaction_id=posted.transaction_id, reason="sent twice", created_by=staff)

    assert state(source) == (D("100"), D("0"))
    assert state(destination) == (D("0"), D("0"))
    txn = JournalTransaction.objects.get(pk=reversal.transaction_id)
    assert (txn.kind, txn.reverses_id, txn.created_by_id) == ("reversal", posted.transaction_id, staff.id)
    assert_refused(
        ErrorCode.ALREADY_REVERSED,
        lambda: postings.transaction_reverse(transaction_id=posted.transaction_id, reason="again"),
        source,
        destination,
    )


def test_reverse_of_spent_money_is_refused():
    wallet = make_wallet()
    posted = postings.wallet_deposit(wallet=wallet, amount=D("50"))
    postings.wallet_withdraw(wallet=wallet, amount=D("40"))

    assert_refused(
        ErrorCode.INSUFFICIENT_BALANCE,
        lambda: postings.transaction_reverse(transaction_id=posted.transaction_id, reason="chargeback"),
        wallet,
    )


def test_reverse_needs_a_reason_and_a_known_transaction():
    wallet = make_wallet(balance=10)
    posted = JournalTransaction.objects.filter(entries__account=wallet).first()

    assert_refused(ErrorCode.VALIDATION_ERROR, lambda: postings.transaction_reverse(transaction_id=posted.id, reason=" "), wallet)
    assert_refused(
        ErrorCode.TRANSACTION_NOT_FOUND,
        lambda: postings.transaction_reverse(transaction_id="00000000-0000-0000-0000-000000000000", reason="x"),
        wallet,
    )


def test_external_key_posts_once():
    wallet = make_wallet()
    postings.wallet_deposit(wallet=wallet, amount=D("10"), external_key="razorpay:pay_1")

    assert_refused(
        ErrorCode.DUPLICATE_EXTERNAL_KEY,
        lambda: postings.wallet_deposit(wallet=wallet, amount=D("10"), external_key="razorpay:pay_1"),
        wallet,
    )


def test_second_wallet_in_the_same_currency_is_refused():
    wallet = make_wallet(currency="USD")

    with pytest.raises(DomainError) as err:
        accounts.wallet_create(user=wallet.user, currency="USD")
    assert err.value.code == ErrorCode.WALLET_EXISTS
    assert accounts.wallet_create(user=wallet.user, currency="USDC").currency == "USDC"


def test_unsupported_currency_is_refused():
    with pytest.raises(DomainError) as err:
        accounts.wallet_create(user=make_user(), currency="EUR")
    assert err.value.code == ErrorCode.CURRENCY_NOT_SUPPORTED


def test_a_hold_cannot_be_paid_to_its_own_wallet():
    wallet = make_wallet(balance=100)
    hold = in_txn.place(wallet=wallet, amount=D("50"))

    assert_refused(
        ErrorCode.VALIDATION_ERROR,
        lambda: in_txn.capture(hold_id=hold.id, payees=[Payee(amount=D("5"), type="credit", wallet=wallet)]),
        wallet,
    )


@pytest.mark.parametrize("direction, balance, adjustments", [("credit", Decimal(130), Decimal(-30)), ("debit", Decimal(70), Decimal(30))])
def test_adjustment_posts_against_the_adjustments_account_with_the_staff_user(direction, balance, adjustments):
    wallet = make_wallet(balance=100)
    staff = make_user(is_staff=True)

    posted = wallet_adjust(wallet=wallet, direction=direction, amount=Decimal(30), reason=" Goodwill ", staff=staff)

    wallet.refresh_from_db()
    assert wallet.balance == balance and posted.balances[wallet.pk][0] == balance
    assert system_account_balance(tenant="webuddy", code=Account.System.ADJUSTMENTS, currency="INR") == adjustments
    txn = JournalTransaction.objects.get(pk=posted.transaction_id)
    assert (txn.kind, txn.created_by, txn.description, txn.metadata["reason"]) == ("adjustment", staff, "Adjustment: Goodwill", "Goodwill")
    assert set(Entry.objects.filter(transaction=txn).values_list("type", flat=True)) == {"adjustment"}
    assert_ledger_invariants()


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"direction": "debit", "amount": Decimal("100.01"), "reason": "x"}, ErrorCode.INSUFFICIENT_BALANCE),
        ({"direction": "credit", "amount": Decimal("5"), "reason": "  "}, ErrorCode.VALIDATION_ERROR),
        ({"direction": "sideways", "amount": Decimal("5"), "reason": "x"}, ErrorCode.VALIDATION_ERROR),
        ({"direction": "credit", "amount": Decimal("0"), "reason": "x"}, ErrorCode.VALIDATION_ERROR),
        ({"direction": "credit", "amount": Decimal("1.001"), "reason": "x"}, ErrorCode.VALIDATION_ERROR),
    ],
)
def test_adjustment_refusals_change_nothing(kwargs, code):
    wallet = make_wallet(balance=100)

    with pytest.raises(DomainError) as refused:
        wallet_adjust(wallet=wallet, staff=make_user(is_staff=True), **kwargs)

    assert refused.value.code == code
    wallet.refresh_from_db()
    assert wallet.balance == Decimal(100)
    assert not JournalTransaction.objects.filter(kind="adjustment").exists()
