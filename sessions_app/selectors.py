"""Reads of consultation sessions."""
from sessions_app.models import ConsultationSession
from wallets.errors import DomainError, ErrorCode
from wallets.models import Tenant
from wallets.validation import parse_id


def session_find(*, tenant: Tenant, session_id) -> ConsultationSession:
    """The tenant's session with its hold, or 404 `session_not_found`."""
    session = (
        ConsultationSession.objects.select_related("hold")
        .filter(pk=parse_id(session_id, ErrorCode.SESSION_NOT_FOUND, "No such session."), wallet__tenant=tenant)
        .first()
    )
    if session is None:
        raise DomainError(ErrorCode.SESSION_NOT_FOUND, "No such session.")
    return session
