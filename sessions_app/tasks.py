"""Jobs of sessions: cancelling the ones left open."""
from datetime import timedelta

from django.conf import settings

from wallets.jobs import app


@app.periodic(cron="*/10 * * * *")
@app.task(name="sessions.expire_sessions", queue="maintenance")
def expire_sessions(timestamp: int | None = None) -> int:
    """Every 10 minutes, as `manage.py expire_sessions`: sessions active longer than
    SESSION_EXPIRE_HOURS are cancelled and their holds released."""
    from sessions_app.services import sessions_expire

    return len(sessions_expire(older_than=timedelta(hours=settings.SESSION_EXPIRE_HOURS)))
