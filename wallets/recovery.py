"""Recovery points of an operation that calls the outside world (Stripe's "atomic phases").

A service that calls a gateway runs in phases: (1) it records its intent (a recharge or payout row,
a hold) in one transaction, `with recovery.step("recorded") as remember:`; (2) it calls out with no
transaction open and no row lock held, carrying its own idempotency key, then `recovery.save(...)`s
the answer; (3) it applies the answer in a new transaction. A retry of the same request (same
`Idempotency-Key`) gets the recovery of the first attempt: `recovery.data` holds what earlier phases
remembered, so it resumes after the last phase that committed. It never records the intent twice,
never applies an answer twice (the apply step is idempotent on the row's status) and never calls out
with another key.

Without an `Idempotency-Key` the same phases run with `NO_RECOVERY`: the same transactions, nothing
remembered. `wallets.api.idempotency` keeps the remembered data on the key's stored record.
"""
from contextlib import contextmanager
from types import MappingProxyType

from django.db import transaction

# The recovery points the services use, in the order they pass them.
STARTED, RECORDED, SUBMITTING, ANSWERED = "started", "recorded", "submitting", "answered"


class NoRecovery:
    """The recovery of a request without an `Idempotency-Key`: the phases' transactions, no memory."""

    point = STARTED
    data = MappingProxyType({})

    @contextmanager
    def step(self, point: str):
        """One phase's transaction; `remember(**data)` inside it keeps data with its recovery point."""
        with transaction.atomic():
            yield lambda **data: None

    def save(self, point: str, **data) -> None:
        """Keep data (an outside answer) as a recovery point of its own, in its own transaction."""


NO_RECOVERY = NoRecovery()


def no_transaction_open() -> None:
    """Refuse to call out while a transaction of ours is open (it would hold its row locks across the
    call, and roll back what the outside world has already done). A test case's own wrapping
    transaction does not count."""
    connection = transaction.get_connection()
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise RuntimeError("an outside call may not be made inside a database transaction")


def calls_out(service):
    """Mark a service that calls the outside world: it runs in phases that commit on their own (it
    takes `recovery=`), so a request is never wrapped around it in one transaction. A view names the
    service it calls (`service = ...`) and the request pipeline reads this mark from it."""
    service.calls_out = True
    return service


def runs_in_phases(service) -> bool:
    return getattr(service, "calls_out", False)
