"""Writes to the core: one function per state change, each one transaction (hold services work in
their caller's), keyword-only arguments, a `DomainError` on any refusal with every balance as it was.

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
