"""Ledger history in the past, for tests of point-in-time features (monthly payouts).

Postings always carry the time they were made; history from an earlier month is written the way a
data import writes it (wallets.services.history: oldest first, before any live posting on the wallet).
"""
from datetime import datetime
from decimal import Decimal

from wallets.models import Account
from wallets.services.history import wallet_history_import


def backdated_deposit(wallet: Account, amount: Decimal, at: datetime) -> None:
    """An earning imported at `at`, as money that came in through the gateway."""
    wallet_history_import(wallet=wallet, amount=amount, at=at, source=Account.System.GATEWAY_CLEARING)
