"""Both dialects fuzzed against the service's own OpenAPI schema (`/api/schema/`), in process through
the WSGI application: every operation, positive and negative inputs (schemathesis' examples, coverage
and fuzzing phases), each with the credential its `security` declares.

Every answer must be documented (status code, content type, body), no answer may be a 5xx, every
4xx carries the error envelope `{"code": snake_case, "message": str[, "fields": {...}]}`, and the
ledger stays whole. A second test walks the operations statefully: the ids one answer returns (a new
user, session, recharge, payout, monitor, endpoint) feed the next request, as the links schemathesis
infers from the schema say.

Random ids name nothing, so half of the valid (positive) requests are pointed at objects that exist:
a funded customer, an expert with a bank account, an active session, a TMR buyer with a frozen
order. That takes them past the lookups, into the services, and their 2xx bodies are checked too.

The run is bounded for `make test`. WALLET_FUZZ_EXAMPLES raises the examples per operation (and the
stateful scenarios with it) for a longer run:
`WALLET_FUZZ_EXAMPLES=500 pytest tests/reliability/test_schema_fuzz.py`.
"""
import itertools
import os
import re
from decimal import Decimal

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from experts.services import bank_detail_add
from sessions_app.services import session_start
from tests.factories import make_api_key, make_wallet, tenant
from tests.invariants import assert_ledger_invariants
from wallets.models import Account, User
from wallets.services import postings, users
from wallets.services.escrow import escrow_freeze

EXAMPLES = int(os.environ.get("WALLET_FUZZ_EXAMPLES", "20"))
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())

pytestmark = pytest.mark.django_db

FUZZ_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)


@schemathesis.check
def error_envelope(ctx, response, case):
    """Every 4xx is `{"code": snake_case, "message": str[, "fields": {name: [str, ...]}]}`."""
    if not 400 <= response.status_code < 500:
        return
    body = response.json()
    assert isinstance(body, dict), f"a {response.status_code} body is not an object: {body!r}"
    assert set(body) <= {"code", "message", "fields"}, f"unexpected keys in the error envelope: {sorted(body)}"
    assert isinstance(body.get("code"), str) and SNAKE_CASE.match(body["code"]), f"code is not snake_case: {body!r}"
    assert isinstance(body.get("message"), str) and body["message"], f"message is not a sentence: {body!r}"
    if "fields" in body:
        fields = body["fields"]
        assert isinstance(fields, dict) and fields, f"fields is not an object of field names: {body!r}"
        for name, messages in fields.items():
            assert isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages), (name, messages)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    error_envelope,
]

_serial = itertools.count(1)


def webuddy_user(*, funds) -> User:
    """A WeBuddy user as `POST /v1/users` makes one, with money on their wallet."""
    user = users.user_create(tenant=tenant("webuddy"), phone_number=f"+9196{next(_serial):08d}")
    postings.wallet_deposit(wallet=Account.objects.get(user=user), amount=Decimal(funds))
    return user


class World:
    """One credential of each kind, and objects that exist for valid requests to be about."""

    def __init__(self):
        self.webuddy = f"Api-Key {make_api_key('webuddy')[1]}"
        self.tmr = f"Api-Key {make_api_key('tmr')[1]}"
        customer = webuddy_user(funds=100_000)
        expert = webuddy_user(funds=50_000)
        bank = bank_detail_add(expert=expert, bank_name="HDFC Bank", account_number="123456789012",
                               ifsc_code="HDFC0001234", account_holder_name="Asha Rao")
        session = session_start(tenant=tenant("webuddy"), user_id=customer.pk, expert_id=expert.pk, session_fee=Decimal(100))
        buyer = make_wallet(currency="USD", balance=1_000).user
        payee = make_wallet(currency="USD").user
        escrow_freeze(tenant=tenant("tmr"), user_id=buyer.pk, order_id="order-seed", amount=Decimal(50), currency="USD")
        self.jwt = f"Bearer {RefreshToken.for_user(buyer).access_token}"
        self.webuddy_ids = {
            "userId": customer.pk, "user_id": customer.pk, "expertId": expert.pk, "expert_id": expert.pk,
            "sessionId": session.pk, "session_id": session.pk, "bankAccount": bank.pk,
        }
        self.tmr_ids = {"user_id": buyer.pk, "payee_id": payee.pk, "order_id": "order-seed"}

    def headers_for(self, case) -> dict:
        """The credential the operation's first security requirement names (none: anonymous), unless
        the case is about a missing or bad `Authorization`."""
        operation = case.operation
        first = (operation.definition.raw.get("security") or [{}])[0]
        if operation.schema.is_security_param_negated(case):
            return {}
        if "jwtAuth" in first:
            return {"Authorization": self.jwt}
        if "ApiKey" in first:
            return {"Authorization": self.webuddy if operation.path.startswith("/v1/") else self.tmr}
        return {}

    def point_at_existing(self, case):
        """A valid request, about the objects of this world (and with values its rules accept)."""
        ids = self.webuddy_ids if case.operation.path.startswith("/v1/") else self.tmr_ids
        for name in case.path_parameters or {}:
            if name in ids:
                case.path_parameters[name] = str(ids[name])
        if isinstance(case.body, dict):
            n = next(_serial)
            known = {**ids, "phoneNumber": f"+9197{n:08d}", "ifscCode": "HDFC0001234",
                     "accountNumber": f"9{n:011d}", "month": "2025-06"}
            for name, value in known.items():
                if isinstance(case.body.get(name), str):
                    case.body[name] = str(value)
        return case


WORLD: World | None = None


@schema.hook
def flatmap_case(context, case):
    # Negative cases stay as generated: replacing a value could make them valid.
    if WORLD is None or case.meta is None or not case.meta.generation.mode.is_positive:
        return st.just(case)
    return st.booleans().map(lambda existing: WORLD.point_at_existing(case) if existing else case)


@pytest.fixture
def _requests_share_the_test_transaction():
    """Django's handler closes the connection after each request (its test client avoids that): keep
    the test's connection, and its transaction, open across the requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, _requests_share_the_test_transaction):
    global WORLD
    WORLD = World()
    yield WORLD
    WORLD = None


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_as_documented(case, world):
    case.call_and_validate(headers=world.headers_for(case), checks=CHECKS)
    assert_ledger_invariants()


class Workflow(schema.as_state_machine()):
    def setup(self):
        # Each scenario starts from the same world: Hypothesis replays scenarios, and the answers
        # (so the ids a scenario can go on with) must not depend on the ones before.
        self.savepoint = transaction.savepoint()

    def get_call_kwargs(self, case):
        return {"headers": WORLD.headers_for(case)}

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs, recorder=self.recorder)

    def teardown(self):
        try:
            assert_ledger_invariants()
        finally:
            transaction.savepoint_rollback(self.savepoint)


def test_linked_operations_answer_as_documented(world):
    Workflow.run(settings=hypothesis.settings(FUZZ_SETTINGS, max_examples=max(EXAMPLES // 2, 5), stateful_step_count=8))
