"""Writes to the core: one function per state change, keyword-only arguments, a `DomainError` on any
refusal with every balance as it was. Each runs in one transaction of its own (hold services in their
caller's), except where it calls out or works in steps: a recharge's phases each commit on their own
around the gateway call, and each month's partition is made in a transaction of its own.

- `users`: WeBuddy and TMR Land users (with their first wallet) and the login throttle
- `api_keys`: a tenant's credentials
- `accounts`: opening, suspending and reactivating wallets
- `postings`: deposits, withdrawals, transfers, reversals, the fee split
- `holds`: placing, capturing, settling, resizing and releasing held money
- `escrow`: TMR Land orders' escrow
- `recharges`: money paid in through a gateway
- `adjustments`: finance staff's corrections
- `partitions`: the ledger's monthly partitions (PostgreSQL), made ahead and archived

Reads are in `wallets.selectors`; tenants in `wallets.tenants`; the posting engine in `wallets.ledger`.
"""
