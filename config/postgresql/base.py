"""Django's PostgreSQL backend with a health check that costs no round trip.

With `CONN_HEALTH_CHECKS` Django checks a persistent connection at the start of each request before
using it; its own check is a `SELECT 1`, one more round trip on every request (as many as a
withdrawal's own statements). Here an idle connection is asked only when the server has said
something since its last answer: a server that restarts, or ends this backend, writes its goodbye
(or closes the socket), which makes the socket readable. Then, and only then, `SELECT 1` decides.

What this does not see is a connection the network dropped without a word (a partition, a failover
without a reset): the request that finds it fails like any request whose database goes away
mid-way, before anything commits, and Django drops the connection at the end of that request
(`errors_occurred`), so the next request on that thread connects afresh. That is at most one failed
request per pooled connection (workers x threads), where Django's own check would have hung as
long and then reconnected.
"""
import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if conn.info.transaction_status != TransactionStatus.IDLE:
            return super().is_usable()
        try:
            poller = select.poll()
            poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
            waiting = poller.poll(0)
        except (OSError, ValueError):
            return False
        return super().is_usable() if waiting else True
