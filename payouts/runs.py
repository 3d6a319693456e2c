"""What runs over many payouts at once: the month's payouts (by the command, the admin and the
jobs, one expert at a time) and the sync of stuck payouts with their gateway. Each payout goes
through `payouts.services`, called through the module (so a gateway given there is the one used)."""
import logging
from datetime import timedelta

from django.utils import timezone

from experts.models import BankDetail
from payouts import services
from payouts.models import Payout
from payouts.selectors import MonthlyQuote, ended_month_end, monthly_payout_exists, monthly_payout_quote
from wallets.errors import DomainError, ErrorCode
from wallets.gateways import GatewayRefused, GatewayUnavailable
from wallets.models import Tenant
from wallets.money import parse_amount

logger = logging.getLogger(__name__)


def monthly_run(*, month: str, threshold=None, dry_run: bool = False, tenant: Tenant | None = None) -> list[dict]:
    """Monthly payouts for every expert with a primary bank account, in every tenant of the WeBuddy
    dialect (or in `tenant`), each expert on their own (`monthly_pay_expert`, also the job each
    expert gets when the month's payouts are fanned out to workers): one row per expert with what
    was (or, dry, would be) paid, or why not."""
    ended_month_end(month)
    rows = []
    for each, expert_ids in monthly_experts(tenant=tenant):
        limit = None if threshold is None else parse_amount(threshold, each.default_currency, field="threshold", allow_zero=True)
        for expert_id in expert_ids:
            rows.append(monthly_pay_expert(tenant=each, expert_id=expert_id, month=month, threshold=limit, dry_run=dry_run))
    return rows


def monthly_experts(*, tenant: Tenant | None = None):
    """(tenant, ids of its experts with a primary bank account) for each WeBuddy-dialect tenant (or `tenant`)."""
    tenants = Tenant.objects.filter(dialect=Tenant.Dialect.WEBUDDY) if tenant is None else Tenant.objects.filter(pk=tenant.pk)
    for each in tenants.order_by("code"):
        yield each, list(
            BankDetail.objects.filter(is_primary=True, expert__tenant=each)
            .order_by("expert_id").values_list("expert_id", flat=True).distinct()
        )


def monthly_pay_expert(*, tenant: Tenant, expert_id, month: str, threshold=None, dry_run: bool = False,
                       raise_errors: bool = False) -> dict:
    """One expert's monthly payout, and a row saying what was (or, dry, would be) paid, or why not.
    Safe to run again, at once or concurrently: an expert paid for the month is `already_paid` (one
    monthly payout per expert and month is a database rule), a payout an earlier run left
    unfinished is taken up again (same payout, same gateway key), and a failure (a gateway error)
    is reported on the row, not raised (`raise_errors`: raised, for a job to be retried)."""
    row = {"tenant": tenant.code, "currency": tenant.default_currency, "expert": str(expert_id), "amount": None,
           "result": "", "payout": None}
    try:
        unfinished = Payout.objects.filter(
            expert_id=expert_id, kind=Payout.Kind.MONTHLY, month=month, status=Payout.Status.PENDING
        ).first()
        if dry_run:
            quote = monthly_payout_quote(tenant=tenant, expert_id=expert_id, month=month, threshold=threshold)
            row["amount"] = quote.amount
            if unfinished is not None:
                row.update(amount=unfinished.amount, result="would_resume", payout=str(unfinished.id))
            elif monthly_payout_exists(expert_id=expert_id, month=month):
                row["result"] = "already_paid"
            else:
                row["result"] = "would_pay" if quote.payable else _not_paid(quote)
        elif unfinished is not None:
            resumed = services.payout_execute(payout_id=unfinished.id)
            row.update(amount=resumed.amount, result=resumed.status, payout=str(resumed.id))
        else:
            result = services.payout_request_monthly(tenant=tenant, expert_id=expert_id, month=month, threshold=threshold)
            if isinstance(result, MonthlyQuote):
                row.update(amount=result.amount, result=_not_paid(result))
            else:
                row.update(amount=result.amount, result=result.status, payout=str(result.id))
    except DomainError as exc:
        if exc.code == ErrorCode.MONTH_NOT_ENDED:
            raise
        row["result"] = "already_paid" if exc.code == ErrorCode.PAYOUT_ALREADY_EXISTS else exc.code.value
    except Exception:  # noqa: BLE001 - one expert's gateway trouble must not stop the run
        if raise_errors:
            raise
        logger.exception("monthly payout of expert %s for %s", expert_id, month)
        row["result"] = "error"
        if row["payout"] is None:
            started = Payout.objects.filter(expert_id=expert_id, kind=Payout.Kind.MONTHLY, month=month,
                                            status=Payout.Status.PENDING).first()
            row["payout"] = None if started is None else str(started.id)
    return row


def _not_paid(quote: MonthlyQuote) -> str:
    """Why a run pays an expert nothing: they had nothing (left) at the month's end, or too little."""
    return "nothing_to_pay" if quote.amount <= 0 else "below_threshold"


def payouts_sync(*, older_than) -> list[tuple[Payout, str]]:
    """Payouts stuck longer than `older_than`, settled with their gateway as a webhook would:
    - recorded but never sent (the request that made it did not finish): cancelled, the hold released
      (a retry of that request, or a new one, pays; this one must not pay as well);
    - sent with no answer kept, or answered "processing" with no provider id: asked again with the
      same idempotency key (the provider gives back the payout it made, or makes it now);
    - processing with a provider id: its status read back and applied.
    Each on its own, with no transaction open around the calls. Returns (payout, outcome) pairs."""
    cutoff = timezone.now() - older_than
    stuck = Payout.objects.filter(
        status__in=[Payout.Status.PENDING, Payout.Status.PROCESSING], created_at__lt=cutoff
    ).select_related("bank_account").order_by("created_at")
    done = []
    for payout in stuck.iterator():
        try:
            if payout.status == Payout.Status.PENDING and payout.submitted_at is None:
                services.payout_cancel(payout_id=payout.id, reason="never sent: the request that made it did not finish")
                outcome = "cancelled"
            elif payout.status == Payout.Status.PENDING:
                outcome = services.payout_execute(payout_id=payout.id).status
            elif not payout.provider_payout_id:
                reply = services._ask_gateway(payout)
                outcome = "busy" if reply is None else services.payout_apply_status(payout_id=payout.id, answer=reply)[0].status
            elif services.live():
                answer = services.gateway_for(payout.payment_method).fetch_payout(payout.provider_payout_id)
                outcome = services.payout_apply_status(payout_id=payout.id, answer=answer)[0].status
            else:
                outcome = payout.status
        except (GatewayUnavailable, GatewayRefused) as exc:
            logger.warning("payout %s: sync failed: %s", payout.id, exc)
            outcome = "unreachable"
        if outcome == Payout.Status.PROCESSING and payout.created_at < timezone.now() - timedelta(hours=20):
            logger.error("payout %s has been processing since %s: look at it with the provider", payout.id, payout.created_at)
        done.append((payout, outcome))
    return done
