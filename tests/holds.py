"""The hold services as one unit of work each, for tests that call them on their own: a transaction
opened, the hold locked, the service called (services do this for themselves in production)."""
from django.db import transaction

from wallets.services import holds


def place(*, wallet, amount, **kwargs):
    with transaction.atomic():
        return holds.hold_place(wallet=wallet, amount=amount, **kwargs)


def capture(*, hold_id, **kwargs):
    with transaction.atomic():
        return holds.hold_capture(hold=holds.hold_lock(hold_id), **kwargs)


def release(*, hold_id, **kwargs):
    with transaction.atomic():
        return holds.hold_release(hold=holds.hold_lock(hold_id), **kwargs)


def resize(*, hold_id, **kwargs):
    with transaction.atomic():
        return holds.hold_resize(hold=holds.hold_lock(hold_id), **kwargs)


def settle(*, hold_id, **kwargs):
    with transaction.atomic():
        return holds.hold_settle(hold=holds.hold_lock(hold_id), **kwargs)
