"""The core tables: tenants (the marketplaces), users, ledger accounts (user wallets and system
accounts), journal transactions, their entries, holds, API keys and stored idempotent responses.

Ledger rules (SPEC §2) are enforced by the database where it can: CHECK constraints on accounts,
and on PostgreSQL triggers that refuse UPDATE/DELETE of ledger rows and an unbalanced transaction
at commit (see migrations). No business logic lives here; writes go through `wallets.services`.
"""
# One app label (`wallets`) over modules by concern; every model is importable from here as before.
from wallets.models.escrow import Escrow  # noqa: F401
from wallets.models.events import BalanceMonitor, Delivery, DeliveryAttempt, Event, WebhookEndpoint  # noqa: F401
from wallets.models.fields import MONEY, ExactJSONDecoder, ExactJSONEncoder  # noqa: F401
from wallets.models.identity import ApiKey, LoginFailure, Tenant, User, UserManager  # noqa: F401
from wallets.models.ledger import (  # noqa: F401
    Account,
    ArchivedBalance,
    Entry,
    Hold,
    JournalTransaction,
    LedgerArchive,
    ReconcileRun,
)
from wallets.models.payments import GatewayEvent, Recharge  # noqa: F401
from wallets.models.platform import IdempotencyRecord  # noqa: F401
