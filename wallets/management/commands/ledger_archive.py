"""`python manage.py ledger_archive --month YYYY-MM`: take a month that is over out of the live
ledger (PostgreSQL), keeping its entries as a table for export and its totals as opening balances."""
from django.core.management.base import BaseCommand, CommandError

from wallets.errors import DomainError
from wallets.services.partitions import ledger_month_archive


class Command(BaseCommand):
    help = (
        "Archive the entries of a month before the current one, oldest month first: every account's totals "
        "are kept as opening balances (reconcile and point-in-time balances add them) and the month's "
        "partition is detached and kept as the table wallets_entry_archive_YYYY_MM, in one transaction."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="the month to archive, YYYY-MM")

    def handle(self, *args, **options):
        try:
            archive = ledger_month_archive(month=options["month"])
        except DomainError as refusal:
            raise CommandError(refusal.message) from refusal
        self.stdout.write(
            f"Archived {archive}: {archive.entries} entries of {archive.transactions} transactions, "
            f"{archive.balances.count()} opening balances; the entries are kept in {archive.table_name}."
        )
