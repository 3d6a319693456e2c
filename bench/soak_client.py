"""One soak client's operations: `Op` (a request, its attempts, what it should leave in the ledger), the
amounts no other operation of a kind uses, and `Client`, which sends and retries them as clients do
(see `bench.soak_traffic`)."""
import random
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

import requests
import simplejson


# Seconds a client keeps retrying one operation (an idempotency lease of a killed process runs out
# well within it).
RETRY_BUDGET_SECONDS = 45
CONNECT_TIMEOUT, READ_TIMEOUT = 3, 10


@dataclass
class Attempt:
    started: float  # seconds since the soak began
    ended: float
    status: int | None  # None: no answer (connection refused or cut, timeout)
    error: str = ""
    code: str = ""  # the error body's `code`
    replayed: bool = False
    sent: bool = True  # False: the request never left (the connection was refused)


@dataclass
class Op:
    kind: str
    method: str
    path: str
    body: dict | None = None
    key: str | None = None
    natural: bool = False  # safe to repeat without a key: the service refuses a second application itself
    fingerprint: dict = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    response: dict | None = None  # the JSON of the last answer
    unresolved: bool = False  # retries ran out with no final answer
    patience: float | None = None  # an impatient client's read timeout for the first attempt
    duplicate: bool = False  # the same request (same key) sent again at the same moment
    raw: str | None = None  # a provider webhook's signed body

    @property
    def status(self) -> int | None:
        return self.attempts[-1].status if self.attempts else None

    @property
    def code(self) -> str:
        return self.attempts[-1].code if self.attempts else ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def applied(self) -> str:
        """`yes`, `no` or `maybe`: what the answers say about the operation's effect. With a key the
        last answer decides (a retry of what was applied replays its success); without one, any
        attempt left unanswered (or answered 5xx) may have been applied."""
        if self.unresolved:
            return "maybe"
        if self.key is not None:
            return "yes" if self.ok else "no"
        if any(a.status is not None and 200 <= a.status < 300 for a in self.attempts):
            return "yes"
        if any(a.sent and (a.status is None or a.status >= 500) for a in self.attempts):
            return "maybe"
        return "no"


class Amounts:
    """Amounts no other operation of the same kind on the same wallet uses, so the ledger can be
    searched for each operation's own entries."""

    def __init__(self):
        self.used: set = set()
        self.lock = threading.Lock()

    def draw(self, rng: random.Random, scope: tuple, low: int, high: int, decimals: int = 2) -> Decimal:
        unit = 10 ** decimals
        with self.lock:
            while True:
                for _ in range(50):
                    minor = rng.randrange(low * unit, high * unit)
                    if (scope, minor) not in self.used:
                        self.used.add((scope, minor))
                        return Decimal(minor).scaleb(-decimals)
                high *= 2  # this range is nearly used up on this wallet


class Client:
    """One thread's HTTP client of the service, with the retry rules of the module docstring."""

    def __init__(self, base: str, clock, rng: random.Random):
        self.base = base
        self.clock = clock
        self.rng = rng
        self.session = requests.Session()

    def call(self, op: Op, *, headers: dict | None = None, raw: str | None = None) -> Op:
        headers = dict(headers or {})
        if op.key is not None:
            headers["Idempotency-Key"] = op.key
        data = raw if raw is not None else (None if op.body is None else simplejson.dumps(op.body, use_decimal=True))
        if data is not None:
            headers.setdefault("Content-Type", "application/json")
        deadline = time.monotonic() + RETRY_BUDGET_SECONDS
        while True:
            attempt = self._attempt(op, headers, data)
            op.attempts.append(attempt)
            retry = self._should_retry(op, attempt)
            if not retry:
                return op
            if time.monotonic() > deadline:
                op.unresolved = op.key is not None or op.natural
                return op
            time.sleep(min(2.0, 0.2 * 2 ** min(len(op.attempts), 4)) * (0.5 + self.rng.random()))

    def _attempt(self, op: Op, headers: dict, data: str | None) -> Attempt:
        started = self.clock()
        patience = op.patience if op.patience and not op.attempts else READ_TIMEOUT
        try:
            response = self.session.request(op.method, self.base + op.path, data=data, headers=headers,
                                            timeout=(CONNECT_TIMEOUT, patience))
        except requests.ConnectionError as exc:
            refused = "refused" in str(exc) or isinstance(exc, requests.ConnectTimeout)
            self.session.close()  # its pooled connections may be to a killed process
            return Attempt(started, self.clock(), None, error=type(exc).__name__, sent=not refused)
        except requests.RequestException as exc:
            self.session.close()
            return Attempt(started, self.clock(), None, error=type(exc).__name__)
        try:
            op.response = response.json()
        except ValueError:
            op.response = None
        code = op.response.get("code", "") if isinstance(op.response, dict) and response.status_code >= 400 else ""
        return Attempt(started, self.clock(), response.status_code, code=str(code),
                       replayed=response.headers.get("Idempotent-Replayed") == "true")

    @staticmethod
    def _should_retry(op: Op, attempt: Attempt) -> bool:
        if attempt.status is None:
            return not attempt.sent or op.key is not None or op.natural
        if attempt.status >= 500:
            return op.key is not None or op.natural
        return attempt.status == 409 and attempt.code == "idempotency_key_in_use"
