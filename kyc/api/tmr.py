"""TMR Land dialect: the signed-in user's KYC submission."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from kyc.models import KycSubmission
from kyc.selectors import kyc_latest
from kyc.services import kyc_submit
from wallets.api.base import UserView
from wallets.api.fields import InputSerializer
from wallets.api.schema import IDEMPOTENCY_ERRORS, tmr_errors
from wallets.errors import ErrorCode as E
from wallets.events import event_renderer
from wallets.models import Tenant

TAGS = ["TMR Land: KYC"]


class KycOut(serializers.Serializer):
    user_id = serializers.UUIDField()
    full_name = serializers.CharField()
    id_type = serializers.ChoiceField(choices=KycSubmission.IdType.values)
    id_number = serializers.CharField(source="id_number_masked", help_text="Masked, like 310101****1234.")
    status = serializers.ChoiceField(choices=KycSubmission.Status.values)
    submitted_at = serializers.DateTimeField()
    verified_at = serializers.DateTimeField(allow_null=True)


class KycIn(InputSerializer):
    full_name = serializers.CharField(max_length=200)
    id_type = serializers.ChoiceField(choices=KycSubmission.IdType.values)
    id_number = serializers.RegexField(r"^[A-Za-z0-9 -]{4,40}\Z", help_text="4 to 40 letters or digits.")


class KycView(UserView):
    @extend_schema(
        tags=TAGS,
        summary="Submit KYC (again only after a rejection)",
        request=KycIn,
        responses={201: KycOut, **tmr_errors(E.VALIDATION_ERROR, E.MALFORMED_JSON, E.KYC_ALREADY_SUBMITTED, *IDEMPOTENCY_ERRORS)},
    )
    def post(self, request):
        data = KycIn(data=request.data)
        data.is_valid(raise_exception=True)
        submission = kyc_submit(user=request.user, **data.validated_data)
        return Response(KycOut(submission).data, status=status.HTTP_201_CREATED)

    @extend_schema(tags=TAGS, summary="The user's latest KYC submission", responses={200: KycOut, **tmr_errors(E.KYC_NOT_FOUND)})
    def get(self, request):
        return Response(KycOut(kyc_latest(user=request.user)).data)


@event_renderer("kyc", Tenant.Dialect.TMR)
def kyc_event_data(submission: KycSubmission) -> dict:
    return KycOut(submission).data
