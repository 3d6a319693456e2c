"""Recharges: money paid into a wallet through a payment gateway, recorded first, credited once."""
from dataclasses import asdict

from django.db import transaction
from django.utils import timezone

from wallets.errors import DomainError, ErrorCode
from wallets.gateways import GatewayOrder, gateway_for
from wallets.models import Account, Recharge, Tenant
from wallets.money import parse_amount
from wallets.recovery import ANSWERED, NO_RECOVERY, RECORDED, no_transaction_open
from wallets.selectors import webuddy_wallet
from wallets.services.postings import wallet_deposit
from wallets.validation import invalid


def recharge_create(
    *, tenant: Tenant, user_id, amount, payment_method: str, recovery=NO_RECOVERY
) -> tuple[Recharge, dict]:
    """Take money into a wallet through the payment method's gateway, in phases: the recharge is
    recorded (`recorded`); the gateway is asked for an order with no transaction open, keyed by the
    recharge's id; its answer is kept on the recharge (`answered`); then applied: credited once when
    the gateway confirms (at once with the simulated gateway), failed, or left pending for the
    payer. A retry with the same `recovery` resumes after the last phase done. Returns the recharge
    and what the payer's client needs to pay."""
    recharge_id = recovery.data.get("recharge")
    if recharge_id is None:
        wallet = webuddy_wallet(tenant=tenant, user_id=user_id)
        amount = parse_amount(amount, wallet.currency)
        if payment_method not in Recharge.Method.values:
            raise invalid("paymentMethod", f"Must be one of {', '.join(Recharge.Method.values)}.")
        if wallet.status != Account.Status.ACTIVE:
            raise DomainError(ErrorCode.WALLET_SUSPENDED, "The wallet is suspended.")
        with recovery.step(RECORDED) as remember:
            recharge = Recharge.objects.create(
                user_id=wallet.user_id, account=wallet, amount=amount, currency=wallet.currency,
                payment_method=payment_method,
            )
            remember(recharge=str(recharge.id))
    else:
        recharge = Recharge.objects.get(pk=recharge_id)
    if recharge.gateway_answer is None:
        no_transaction_open()
        order = gateway_for(recharge.payment_method).create_order(
            reference=str(recharge.id), amount=recharge.amount, currency=recharge.currency,
            idempotency_key=f"recharge-{recharge.id}",
        )
        with recovery.step(ANSWERED):
            Recharge.objects.filter(pk=recharge.pk, gateway_answer__isnull=True).update(
                gateway_answer=asdict(order), provider_order_id=order.provider_order_id, checkout=order.client_data,
                updated_at=timezone.now(),
            )
    recharge = recharge_apply_order(recharge_id=recharge.id)
    return recharge, recharge.checkout


def recharge_apply_order(*, recharge_id) -> Recharge:
    """The gateway's kept answer to our order, applied: credited or failed if the gateway already
    knows (each at most once, whoever applies it first), else left pending for the payer."""
    recharge = Recharge.objects.select_related("account").get(pk=recharge_id)
    order = GatewayOrder(**recharge.gateway_answer)
    if order.status == "succeeded":
        return recharge_confirm(recharge_id=recharge_id, provider_payment_id=order.provider_payment_id)
    if order.status == "failed":
        return recharge_fail(recharge_id=recharge_id, reason=order.failure_reason)
    return recharge


def recharge_confirm(*, recharge_id, provider_payment_id: str | None) -> Recharge:
    """The gateway says the money arrived: credit the wallet, exactly once, whatever the recharge's
    status was and even if the wallet has since been suspended (money received is always credited)."""
    with transaction.atomic():
        recharge = Recharge.objects.select_for_update().select_related("account").get(pk=recharge_id)
        if recharge.status == Recharge.Status.SUCCEEDED:
            return recharge
        posted = wallet_deposit(
            wallet=recharge.account,
            amount=recharge.amount,
            description=f"Wallet recharge via {recharge.get_payment_method_display().title()}",
            reference_type="recharge",
            reference_id=str(recharge.id),
            external_key=f"recharge:{recharge.id}",
            require_active=False,
        )
        recharge.status = Recharge.Status.SUCCEEDED
        recharge.provider_payment_id = provider_payment_id
        recharge.transaction_id = posted.transaction_id
        recharge.save(update_fields=["status", "provider_payment_id", "transaction", "updated_at"])
    return recharge


def recharge_fail(*, recharge_id, reason: str) -> Recharge:
    """The gateway says the payment failed: a pending recharge becomes failed (nothing else changes)."""
    with transaction.atomic():
        recharge = Recharge.objects.select_for_update().get(pk=recharge_id)
        if recharge.status == Recharge.Status.PENDING:
            recharge.status = Recharge.Status.FAILED
            recharge.failure_reason = reason[:255]
            recharge.save(update_fields=["status", "failure_reason", "updated_at"])
    return recharge

