"""`python manage.py run_monthly_payouts --month YYYY-MM [--threshold N] [--dry-run]`

Pays every expert with a primary bank account their balance at the end of the month (capped by what
is available now), each expert in a transaction of their own. Safe to re-run: an expert already paid
for the month is skipped. Ends with a summary table.
"""
from collections import Counter
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from experts.models import BankDetail
from payouts.models import Payout
from payouts.services import MonthlyQuote, ended_month_end, monthly_payout_quote, payout_request_monthly
from wallets.errors import DomainError, ErrorCode
from wallets.money import parse_amount


def monthly_run(*, month: str, threshold=None, dry_run: bool = False) -> list[dict]:
    """One row per expert: what was (or, dry, would be) paid, or why not."""
    ended_month_end(month)
    currency = settings.WEBUDDY_CURRENCY
    limit = None if threshold is None else parse_amount(threshold, currency, field="threshold", allow_zero=True)
    rows = []
    expert_ids = (
        BankDetail.objects.filter(is_primary=True).order_by("expert_id").values_list("expert_id", flat=True).distinct()
    )
    for expert_id in expert_ids:
        row = {"expert": str(expert_id), "amount": None, "result": "", "payout": None}
        try:
            if dry_run:
                quote = monthly_payout_quote(expert_id=expert_id, month=month, threshold=limit)
                exists = Payout.objects.filter(expert_id=expert_id, kind=Payout.Kind.MONTHLY, month=month).exclude(
                    status__in=[Payout.Status.FAILED, Payout.Status.CANCELLED]
                ).exists()
                row["amount"] = quote.amount
                row["result"] = "already_paid" if exists else ("would_pay" if quote.payable else "below_threshold")
            else:
                result = payout_request_monthly(expert_id=expert_id, month=month, threshold=limit)
                if isinstance(result, MonthlyQuote):
                    row.update(amount=result.amount, result="below_threshold")
                else:
                    row.update(amount=result.amount, result=result.status, payout=str(result.id))
        except DomainError as exc:
            if exc.code == ErrorCode.MONTH_NOT_ENDED:
                raise
            row["result"] = "already_paid" if exc.code == ErrorCode.PAYOUT_ALREADY_EXISTS else exc.code.value
        rows.append(row)
    return rows


class Command(BaseCommand):
    help = "Pay every expert their balance at the end of a month (one transaction per expert)."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM, a month that has ended")
        parser.add_argument("--threshold", default=None, help="pay only amounts of at least this much")
        parser.add_argument("--dry-run", action="store_true", help="show what would be paid; change nothing")

    def handle(self, *args, month, threshold, dry_run, **options):
        try:
            limit = None if threshold is None else Decimal(threshold)
        except InvalidOperation:
            raise CommandError("--threshold must be a number") from None
        try:
            rows = monthly_run(month=month, threshold=limit, dry_run=dry_run)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{'expert':38} {'amount':>16}  result")
        for row in rows:
            amount = "" if row["amount"] is None else f"{row['amount']:.2f}"
            self.stdout.write(f"{row['expert']:38} {amount:>16}  {row['result']}")
        counts = Counter(row["result"] for row in rows)
        total = sum((row["amount"] or 0) for row in rows if row["result"] in ("paid", "processing", "would_pay"))
        label = "would pay" if dry_run else "paid"
        self.stdout.write(
            f"{'DRY RUN: ' if dry_run else ''}{len(rows)} expert(s); {label} {total:.2f} in total; "
            + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        )
