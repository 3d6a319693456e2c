"""`python manage.py reconcile`: recompute balances from entries; exit 1 on any difference."""
import json
import sys

from django.core.management.base import BaseCommand

from wallets.selectors import ledger_reconcile


class Command(BaseCommand):
    help = "Recompute every cached wallet balance and every transaction's sum; exit 1 on any problem."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        report = ledger_reconcile()
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": report.ok,
                        "accounts_checked": report.accounts_checked,
                        "transactions_checked": report.transactions_checked,
                        "problems": report.problems,
                    },
                    indent=2,
                )
            )
        else:
            self.stdout.write(
                f"Checked {report.accounts_checked} accounts and {report.transactions_checked} transactions."
            )
            for problem in report.problems:
                self.stdout.write(f"PROBLEM {problem['problem']}: " + ", ".join(
                    f"{k}={v}" for k, v in problem.items() if k != "problem"
                ))
            self.stdout.write("OK: the ledger reconciles." if report.ok else f"FAILED: {len(report.problems)} problem(s).")
        if not report.ok:
            sys.exit(1)
