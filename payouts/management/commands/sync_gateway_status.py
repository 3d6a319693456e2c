"""`python manage.py sync_gateway_status [--older-than 15m]`: settle what a timeout or a crash left
pending with the payment providers: recharges (credited, failed, or left pending for the payer) and
payouts (asked again with the same idempotency key, or read back), as their webhooks would have."""
from django.core.management.base import BaseCommand, CommandError

from payouts.runs import payouts_sync
from wallets.services.recharges import recharges_sync
from wallets.validation import parse_duration


class Command(BaseCommand):
    help = "Ask the payment providers about recharges and payouts stuck longer than --older-than, and apply the answers."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default="15m", help="like 15m, 2h, 1d (default 15m)")

    def handle(self, *args, older_than, **options):
        age = parse_duration(older_than)
        if age is None:
            raise CommandError("--older-than takes a number (digits 0-9) and a unit: 15m, 2h, 1d.")
        for recharge, outcome in recharges_sync(older_than=age):
            self.stdout.write(f"recharge {recharge.id} ({recharge.payment_method}): {outcome}")
        for payout, outcome in payouts_sync(older_than=age):
            self.stdout.write(f"payout {payout.id} ({payout.payment_method}): {outcome}")
        self.stdout.write("Done.")
