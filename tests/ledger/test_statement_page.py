"""One wallet's unfiltered history page is read with hand-written SQL on PostgreSQL; it answers
exactly what the ORM's statement query (wallet_statement, still used for filtered pages) answers."""
import pytest

from tests.webuddy.helpers import create_user, funded_user
from wallets.models import Account
from wallets.selectors import _statement_page, wallet_history, wallet_statement

pytestmark = pytest.mark.django_db


def test_the_written_out_page_is_the_orm_statement_page(webuddy_client):
    user, expert = funded_user(webuddy_client, 500), create_user(webuddy_client)
    for fee, actual in ((100, 80), (50, 50), (30, 45)):  # holds, captures, releases: lines with held parts
        started = webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": fee}, format="json")
        assert started.status_code == 201, started.content
        ended = webuddy_client.post("/v1/sessions/end", {"sessionId": started.json()["id"], "expertId": expert["id"], "actualFee": actual}, format="json")
        assert ended.status_code == 200, ended.content
    webuddy_client.post("/v1/sessions/start", {"userId": user["id"], "expertId": expert["id"], "sessionFee": 20}, format="json")
    wallet = Account.objects.get(user_id=user["id"], kind="wallet")

    lines = wallet.statement_lines
    assert lines >= 8
    for offset, limit in ((0, 3), (2, 4), (0, 100), (lines - 1, 5), (lines, 5)):
        written = _statement_page(wallet.id, offset, limit)
        orm = list(wallet_statement(wallets=[wallet])[offset : offset + limit])
        assert written == orm, (offset, limit)
    page = wallet_history(wallets=[wallet], offset=0, limit=lines)
    assert len(page.lines) == lines and page.total == lines
    assert {line["direction"] for line in page.lines} == {"credit", "debit"}
