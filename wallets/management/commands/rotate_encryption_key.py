"""Re-encrypt personal data and secrets under the current field encryption key, while the service runs.

    1. python manage.py rotate_encryption_key --generate       a new key to put first
    2. FIELD_ENCRYPTION_KEY=<new>,<old> on every process        they now write under <new>, read both
    3. python manage.py rotate_encryption_key                  re-encrypts (and re-hashes) old rows
    4. python manage.py rotate_encryption_key --check          exits 0 when nothing is left under <old>
    5. FIELD_ENCRYPTION_KEY=<new> on every process

Rows are rewritten in short transactions of `--batch` rows, each row locked and re-read, so requests
go on meanwhile and a run can be stopped and started again at any point.
"""
from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from wallets.api.idempotency import SEALED
from wallets.crypto import decrypt, encrypt, is_current, keyed_hash, new_key


@dataclass(frozen=True)
class Encrypted:
    """A column holding a value encrypted by `wallets.crypto`, and the keyed hash kept beside it."""

    model: str
    field: str
    label: str
    hash_field: str | None = None
    hash_purpose: str | None = None
    prefix: str = ""  # only values starting with it are encrypted (the rest of the column is not)


ENCRYPTED = [
    Encrypted("experts.BankDetail", "account_number_encrypted", "bank account numbers",
              hash_field="account_number_hash", hash_purpose="bank-account"),
    Encrypted("kyc.KycSubmission", "id_number_encrypted", "KYC id numbers"),
    Encrypted("wallets.WebhookEndpoint", "secret_encrypted", "webhook signing secrets"),
    Encrypted("wallets.IdempotencyRecord", "response_body", "stored responses with a secret", prefix=SEALED),
]


class Command(BaseCommand):
    help = ("Re-encrypt bank account numbers, KYC id numbers, webhook secrets and stored responses with a "
            "secret under the first FIELD_ENCRYPTION_KEY.")

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Only count what is not yet under the current key (exit 1 if any).")
        parser.add_argument("--generate", action="store_true", help="Print a new key to put first in FIELD_ENCRYPTION_KEY.")
        parser.add_argument("--batch", type=int, default=500, help="Rows per transaction (default 500).")

    def handle(self, *args, check=False, generate=False, batch=500, **options):
        if generate:
            self.stdout.write("Put this key first in FIELD_ENCRYPTION_KEY (new,old) on every process, then run this command:")
            self.stdout.write(new_key())
            return
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        left, unreadable = 0, 0
        for column in ENCRYPTED:
            stale, rotated, broken = self._column(column, check=check, batch=batch)
            left += stale - rotated
            unreadable += broken
            verb = "not under the current key" if check else "re-encrypted"
            self.stdout.write(f"{column.label}: {stale if check else rotated} {verb}"
                              + (f", {broken} readable under no configured key" if broken else ""))
        if unreadable:
            raise CommandError(f"{unreadable} value(s) are readable under none of the configured keys: is a key missing?")
        if check and left:
            raise CommandError(f"{left} value(s) are still under an old key: run rotate_encryption_key.")
        self.stdout.write(self.style.SUCCESS("Every value is under the current key."))

    def _column(self, column: Encrypted, *, check: bool, batch: int) -> tuple[int, int, int]:
        """(values under an old key, values rotated, values no key opens)."""
        model = apps.get_model(column.model)
        stale = rotated = broken = 0
        last = None
        while True:
            page = model.objects.order_by("pk")
            if column.prefix:
                page = page.filter(**{f"{column.field}__startswith": column.prefix})
            if last is not None:
                page = page.filter(pk__gt=last)
            ids = list(page.values_list("pk", flat=True)[:batch])
            if not ids:
                return stale, rotated, broken
            last = ids[-1]
            with transaction.atomic():
                rows = model.objects.select_for_update().filter(pk__in=ids).order_by("pk")
                for row in rows:
                    token = getattr(row, column.field) or ""
                    if not token.startswith(column.prefix):
                        continue
                    token = token[len(column.prefix):]
                    if is_current(token):
                        continue
                    try:
                        plain = decrypt(token)
                    except InvalidToken:
                        broken += 1
                        continue
                    stale += 1
                    if check:
                        continue
                    changes = {column.field: column.prefix + encrypt(plain)}
                    if column.hash_field:
                        changes[column.hash_field] = keyed_hash(plain, purpose=column.hash_purpose)
                    model.objects.filter(pk=row.pk).update(**changes)
                    rotated += 1
