"""Ledger rows cannot be added, changed or deleted through admin, even by a superuser."""
import pytest
from django.urls import reverse

from tests.factories import make_wallet
from wallets.models import Entry, JournalTransaction

pytestmark = pytest.mark.django_db


def test_superuser_can_read_but_not_edit_ledger_rows(admin_client):
    wallet = make_wallet(balance=10)
    txn = JournalTransaction.objects.filter(entries__account=wallet).get()
    entry = Entry.objects.filter(account=wallet).get()

    assert admin_client.get(reverse("admin:wallets_journaltransaction_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:wallets_entry_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:wallets_journaltransaction_add")).status_code == 403
    assert admin_client.get(reverse("admin:wallets_entry_delete", args=[entry.pk])).status_code == 403
    response = admin_client.post(
        reverse("admin:wallets_journaltransaction_change", args=[txn.pk]), {"description": "edited"}
    )
    assert response.status_code == 403
    txn.refresh_from_db()
    assert txn.description != "edited"
