"""`python manage.py run_monthly_payouts --month YYYY-MM [--threshold N] [--tenant CODE] [--dry-run]`

Pays every expert with a primary bank account their balance at the end of the month (capped by what
is available now), each expert in a transaction of their own, in every WeBuddy-dialect tenant (or
one). Safe to re-run: an expert already paid for the month is skipped. Ends with a summary table.
"""
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from payouts.runs import monthly_run
from wallets.errors import DomainError
from wallets.models import Tenant
from wallets.money import as_currency
from wallets.validation import parse_ascii_decimal


class Command(BaseCommand):
    help = "Pay every expert their balance at the end of a month (one transaction per expert)."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM, a month that has ended")
        parser.add_argument("--threshold", default=None, help="pay only amounts of at least this much")
        parser.add_argument("--tenant", default=None, help="only this tenant's experts (default: every WeBuddy-dialect tenant)")
        parser.add_argument("--dry-run", action="store_true", help="show what would be paid; change nothing")

    def handle(self, *args, month, threshold, tenant, dry_run, **options):
        try:
            limit = None if threshold is None else parse_ascii_decimal(threshold, field="threshold")
            only = None if tenant is None else Tenant.objects.filter(code=tenant, dialect=Tenant.Dialect.WEBUDDY).first()
            if tenant is not None and only is None:
                raise CommandError(f"--tenant {tenant!r} is not a WeBuddy-dialect tenant")
            rows = monthly_run(month=month, threshold=limit, dry_run=dry_run, tenant=only)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{'tenant':10} {'expert':38} {'amount':>16}  result")
        for row in rows:
            amount = "" if row["amount"] is None else f"{as_currency(row['amount'], row['currency'])} {row['currency']}"
            self.stdout.write(f"{row['tenant']:10} {row['expert']:38} {amount:>16}  {row['result']}")
        counts = Counter(row["result"] for row in rows)
        totals: dict[str, object] = {}
        for row in rows:
            if row["result"] in ("paid", "processing", "would_pay", "would_resume"):
                totals[row["currency"]] = totals.get(row["currency"], 0) + row["amount"]
        label = "would pay" if dry_run else "paid"
        paid = ", ".join(f"{as_currency(total, currency)} {currency}" for currency, total in sorted(totals.items()))
        self.stdout.write(
            f"{'DRY RUN: ' if dry_run else ''}{len(rows)} expert(s); {label} {paid + ' in total' if paid else 'nothing'}; "
            + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        )
