"""`python manage.py purge_idempotency_keys`: drop stored responses older than their 24 h window."""
from django.core.management.base import BaseCommand

from wallets.api.idempotency import purge_expired


class Command(BaseCommand):
    help = "Delete expired Idempotency-Key records."

    def handle(self, *args, **options):
        self.stdout.write(f"Deleted {purge_expired()} expired idempotency record(s).")
