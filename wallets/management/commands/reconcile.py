"""`python manage.py reconcile [--json]`: recompute balances from entries, per tenant; exit 1 on any
difference."""
import json
import sys

from django.core.management.base import BaseCommand

from wallets.money import as_currency
from wallets.selectors import ledger_reconcile


class Command(BaseCommand):
    help = (
        "Recompute every cached wallet balance and every transaction's sum, and check that each tenant's "
        "ledger sums to zero on its own; exit 1 on any problem."
    )

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
                        "tenants": {
                            code: {
                                "ok": t.ok,
                                "accounts": t.accounts,
                                "transactions": t.transactions,
                                "sums": {currency: str(total) for currency, total in sorted(t.sums.items())},
                                "problems": t.problems,
                            }
                            for code, t in sorted(report.tenants.items())
                        },
                        "problems": report.problems,
                    },
                    indent=2,
                )
            )
        else:
            self.stdout.write(
                f"Checked {report.accounts_checked} accounts and {report.transactions_checked} transactions."
            )
            for code, tenant in sorted(report.tenants.items()):
                sums = ", ".join(
                    f"{as_currency(total, currency)} {currency}" for currency, total in sorted(tenant.sums.items())
                ) or "no entries"
                verdict = "OK" if tenant.ok else f"{len(tenant.problems)} problem(s)"
                self.stdout.write(
                    f"  tenant {code}: {tenant.accounts} accounts, {tenant.transactions} transactions, "
                    f"ledger sums to {sums}: {verdict}"
                )
            for problem in report.problems:
                self.stdout.write(f"PROBLEM {problem['problem']}: " + ", ".join(
                    f"{k}={v}" for k, v in problem.items() if k != "problem"
                ))
            self.stdout.write("OK: the ledger reconciles." if report.ok else f"FAILED: {len(report.problems)} problem(s).")
        if not report.ok:
            sys.exit(1)
