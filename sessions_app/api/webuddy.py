"""WeBuddy dialect: consultation sessions (start, adjust, end, get)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from sessions_app import services
from sessions_app.models import ConsultationSession
from sessions_app.selectors import session_find
from wallets.api.auth import request_tenant
from wallets.api.base import WebuddyView
from wallets.api.fields import AmountField, InputSerializer
from wallets.api.rendering import iso_time, optional_time
from wallets.api.schema import IDEMPOTENCY_ERRORS, error_responses
from wallets.errors import ErrorCode
from wallets.events import event_renderer
from wallets.models import Tenant
from wallets.money import amount_out
from wallets.validation import parse_id

E = ErrorCode
TAGS = ["WeBuddy: sessions"]


class SessionOut(serializers.Serializer):
    id = serializers.UUIDField()
    userId = serializers.UUIDField(source="user_id")
    expertId = serializers.UUIDField(source="expert_id")
    status = serializers.ChoiceField(choices=ConsultationSession.Status.values)
    sessionFee = AmountField(source="session_fee")
    currentFee = AmountField(source="current_fee")
    heldAmount = AmountField(source="held_amount")
    deferredAmount = AmountField(source="deferred_amount")
    actualFee = AmountField(source="actual_fee", allow_null=True)
    chargedAmount = AmountField(source="charged_amount", allow_null=True)
    expertEarning = AmountField(source="expert_earning", allow_null=True)
    platformFee = AmountField(source="platform_fee", allow_null=True)
    startedAt = serializers.DateTimeField(source="started_at")
    endedAt = serializers.DateTimeField(source="ended_at", allow_null=True)


class StartIn(InputSerializer):
    userId = serializers.CharField()
    expertId = serializers.CharField()
    sessionFee = AmountField()


class AdjustIn(InputSerializer):
    sessionId = serializers.CharField()
    adjustedFee = AmountField()
    deferFee = serializers.BooleanField(required=False, default=False)


class EndIn(InputSerializer):
    sessionId = serializers.CharField()
    expertId = serializers.CharField()
    actualFee = AmountField()


def _session_id(value):
    return parse_id(value, E.SESSION_NOT_FOUND, "No such session.")


def _expert_id(value):
    return parse_id(value, E.EXPERT_NOT_FOUND, "No such expert.")


def render_session(session: ConsultationSession) -> dict:
    """SessionOut's answer as a plain dict (tests/api/test_renderers.py holds the two equal). The services
    return the session with its hold as it now stands."""
    c = session.currency
    return {
        "id": str(session.id),
        "userId": str(session.user_id),
        "expertId": str(session.expert_id),
        "status": session.status,
        "sessionFee": amount_out(session.session_fee, c),
        "currentFee": amount_out(session.current_fee, c),
        "heldAmount": amount_out(session.held_amount, c),
        "deferredAmount": amount_out(session.deferred_amount, c),
        "actualFee": amount_out(session.actual_fee, c),
        "chargedAmount": amount_out(session.charged_amount, c),
        "expertEarning": amount_out(session.expert_earning, c),
        "platformFee": amount_out(session.platform_fee, c),
        "startedAt": iso_time(session.started_at),
        "endedAt": optional_time(session.ended_at),
    }


def _render(session: ConsultationSession, code=status.HTTP_200_OK) -> Response:
    return Response(render_session(session), status=code)


COMMON = (E.VALIDATION_ERROR, E.MALFORMED_JSON, *IDEMPOTENCY_ERRORS)


class SessionStartView(WebuddyView):
    @extend_schema(
        tags=TAGS,
        summary="Start a session: hold the session fee",
        request=StartIn,
        responses={
            201: SessionOut,
            **error_responses(*COMMON, E.USER_NOT_FOUND, E.EXPERT_NOT_FOUND, E.INSUFFICIENT_BALANCE, E.WALLET_SUSPENDED, dialect="webuddy"),
        },
    )
    def post(self, request):
        data = StartIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        session = services.session_start(
            tenant=request_tenant(request),
            user_id=parse_id(v["userId"], E.USER_NOT_FOUND, "No such user."),
            expert_id=_expert_id(v["expertId"]),
            session_fee=v["sessionFee"],
        )
        return _render(session, status.HTTP_201_CREATED)


class SessionAdjustView(WebuddyView):
    @extend_schema(
        tags=TAGS,
        summary="Adjust the fee: resize the hold now, or defer the difference to settlement",
        request=AdjustIn,
        responses={
            200: SessionOut,
            **error_responses(*COMMON, E.SESSION_NOT_FOUND, E.SESSION_NOT_ACTIVE, E.INSUFFICIENT_BALANCE, E.WALLET_SUSPENDED, dialect="webuddy"),
        },
    )
    def post(self, request):
        data = AdjustIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        session = services.session_adjust(
            tenant=request_tenant(request), session_id=_session_id(v["sessionId"]), adjusted_fee=v["adjustedFee"], defer_fee=v["deferFee"]
        )
        return _render(session)


class SessionEndView(WebuddyView):
    @extend_schema(
        tags=TAGS,
        summary="End and settle: charge the actual fee, pay the expert, release the rest",
        request=EndIn,
        responses={
            200: SessionOut,
            **error_responses(
                *COMMON, E.SESSION_NOT_FOUND, E.EXPERT_MISMATCH, E.SESSION_NOT_ACTIVE, E.INSUFFICIENT_BALANCE,
                E.WALLET_SUSPENDED, dialect="webuddy",
            ),
        },
    )
    def post(self, request):
        data = EndIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        session = services.session_end(
            tenant=request_tenant(request),
            session_id=_session_id(v["sessionId"]),
            expert_id=v["expertId"],
            actual_fee=v["actualFee"],
        )
        return _render(session)


class SessionDetailView(WebuddyView):
    @extend_schema(tags=TAGS, summary="Get a session", responses={200: SessionOut, **error_responses(E.SESSION_NOT_FOUND, dialect="webuddy")})
    def get(self, request, session_id):
        return Response(render_session(session_find(tenant=request_tenant(request), session_id=session_id)))


@event_renderer("session", Tenant.Dialect.WEBUDDY)
def session_event_data(session: ConsultationSession) -> dict:
    return render_session(session)
