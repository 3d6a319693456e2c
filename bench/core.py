"""The ledger core without HTTP: postings per second from worker processes, each calling the same
service the API calls (`wallet_transfer`), on random pairs of 10,000 wallets or on one hot wallet."""
import multiprocessing as mp
import random
import time
from collections import Counter
from decimal import Decimal

from bench.env import setup_django
from bench.stats import summarize

WALLETS = 10_000
AMOUNT = Decimal("0.01")


def create_wallets(count: int = WALLETS, funding: Decimal = Decimal("1000000")) -> list[str]:
    """`count` users with an INR wallet each, funded by one balanced posting."""
    from wallets import ledger
    from wallets.models import Account, User

    users = User.objects.bulk_create(
        [User(name=f"bench {i}", password="!", tenant_id="webuddy") for i in range(count)], batch_size=2000
    )
    accounts = Account.objects.bulk_create(
        [Account(tenant_id="webuddy", kind=Account.Kind.WALLET, user=u, currency="INR") for u in users], batch_size=2000
    )
    for start in range(0, count, 2000):
        chunk = accounts[start : start + 2000]
        legs = [ledger.Leg(account_id=a.id, currency="INR", amount=funding, type="deposit") for a in chunk]
        legs.append(
            ledger.Leg(
                account_id=ledger.system_account_id("webuddy", "gateway_clearing", "INR", 0), currency="INR",
                amount=-funding * len(chunk), type="deposit", is_wallet=False,
            )
        )
        ledger.post(kind="deposit", legs=legs, description="Benchmark funding")
    return [str(a.id) for a in accounts]


def _worker(wallet_ids, mode, seconds, barrier, results, seed) -> None:
    setup_django()
    from django.db import connection

    from wallets.errors import DomainError
    from wallets.models import Account
    from wallets.services import postings

    rng = random.Random(seed)
    wallets = [Account(id=w, tenant_id="webuddy", currency="INR", kind="wallet") for w in wallet_ids]
    hot = wallets[0]
    latencies: list[float] = []
    errors: Counter = Counter()
    connection.ensure_connection()
    barrier.wait()  # every worker has set up Django and connected
    deadline = time.time() + seconds
    flip = False
    while time.time() < deadline:
        if mode == "hot":
            other = wallets[rng.randrange(1, len(wallets))]
            source, destination = (hot, other) if flip else (other, hot)
            flip = not flip
        else:
            source, destination = rng.sample(wallets, 2)
        began = time.perf_counter()
        try:
            postings.wallet_transfer(source=source, destination=destination, amount=AMOUNT)
            latencies.append(time.perf_counter() - began)
        except DomainError as exc:
            errors[exc.code.value] += 1
        except Exception as exc:  # noqa: BLE001 - counted by kind; the report shows them
            errors[type(exc).__name__ + ": " + str(exc).splitlines()[0][:80]] += 1
            connection.close()
    connection.close()
    results.put({"latencies": latencies, "errors": dict(errors)})


def measure(wallet_ids: list[str], processes: list[int], seconds: int) -> dict:
    results = {"random_pairs": {}, "hot_wallet": {}}
    ctx = mp.get_context("spawn")
    for mode, key in (("random", "random_pairs"), ("hot", "hot_wallet")):
        for n in processes:
            barrier, queue = ctx.Barrier(n), ctx.Queue()
            workers = [
                ctx.Process(target=_worker, args=(wallet_ids, mode, seconds, barrier, queue, i)) for i in range(n)
            ]
            for w in workers:
                w.start()
            parts = [queue.get(timeout=seconds + 300) for _ in workers]
            for w in workers:
                w.join()
            latencies = [x for p in parts for x in p["latencies"]]
            errors: Counter = Counter()
            for p in parts:
                errors.update(p["errors"])
            results[key][n] = {**summarize(latencies, seconds), "errors": dict(errors)}
    return results
