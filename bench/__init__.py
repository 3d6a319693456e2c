"""The wallet benchmark: PostgreSQL's own limit (pgbench), the ledger core, the HTTP API under load,
and how costs grow with the ledger. `python -m bench` (full) or `python -m bench --quick`."""
