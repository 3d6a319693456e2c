"""The database stack of production, on this machine, around one command:

    python -m bench.stack -- python -m pytest -m stack ...

It starts a throwaway primary (`bench.pgcluster.Cluster`, database `wallet`), a streaming replica made
from it with `pg_basebackup` on another port, and PgBouncer in transaction pooling mode in front of
the primary; runs the command with

    DATABASE_URL          the primary through PgBouncer (what the service uses)
    DATABASE_POOLING      transaction
    DATABASE_DIRECT_URL   the primary itself (job workers, and what must bypass the pooler)
    DATABASE_REPLICA_URL  the replica
    STACK_REPLICA_DIR, STACK_REPLICA_PORT   the replica's directory and port (tests stop and start it)

and stops and deletes all three on any exit, passing the command's exit status on.
"""
import argparse
import os
import signal
import subprocess
import sys

from bench.pgcluster import Cluster, PgBouncer, Replica


def _stop_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run (after --)")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    signal.signal(signal.SIGTERM, _stop_on_signal)
    primary = replica = pooler = None
    try:
        # wal_keep_size: a replica stopped by a test catches up from the primary's WAL when it is back.
        primary = Cluster(settings={"wal_keep_size": "256MB", "max_connections": "200"}).start()
        primary.create_database("wallet")
        replica = Replica(primary, settings={"max_connections": "200"}).start()
        pooler = PgBouncer(primary.port).start()
        env = {
            **os.environ,
            "DATABASE_URL": pooler.url("wallet"),
            "DATABASE_POOLING": "transaction",
            "DATABASE_DIRECT_URL": primary.url("wallet"),
            "DATABASE_REPLICA_URL": replica.url("wallet"),
            "STACK_REPLICA_DIR": str(replica.dir),
            "STACK_REPLICA_PORT": str(replica.port),
        }
        print(f"stack: primary :{primary.port}, replica :{replica.port} (streaming), "
              f"pgbouncer :{pooler.port} (transaction pooling)", flush=True)
        return subprocess.call(command, env=env)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for part in (pooler, replica, primary):
            if part is not None:
                part.destroy()


if __name__ == "__main__":
    sys.exit(main())
