"""WeBuddy dialect: expert payouts (manual, monthly)."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from payouts import services
from payouts.models import Payout
from payouts.selectors import payout_find
from wallets.api.auth import request_tenant
from wallets.api.base import WebuddyView
from wallets.api.fields import AmountField, InputSerializer
from wallets.api.schema import IDEMPOTENCY_ERRORS, error_responses
from wallets.errors import ErrorCode
from wallets.events import event_renderer
from wallets.gateways import METHODS
from wallets.models import Tenant
from wallets.validation import parse_id

E = ErrorCode
TAGS = ["WeBuddy: payouts"]


class PayoutOut(serializers.Serializer):
    id = serializers.UUIDField()
    expertId = serializers.UUIDField(source="expert_id")
    amount = AmountField()
    currency = serializers.CharField()
    kind = serializers.ChoiceField(choices=Payout.Kind.values)
    month = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=Payout.Status.values)
    paymentMethod = serializers.CharField(source="payment_method")
    bankAccountId = serializers.UUIDField(source="bank_account_id")
    providerPayoutId = serializers.CharField(source="provider_payout_id", allow_null=True)
    failureReason = serializers.CharField(source="failure_reason", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["failureReason"] = data["failureReason"] or None
        return data


class SkippedOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=["skipped"])
    reason = serializers.ChoiceField(choices=["below_threshold"])
    amount = AmountField()


class ManualIn(InputSerializer):
    expertId = serializers.CharField()
    amount = AmountField()
    bankAccount = serializers.CharField(help_text="The id of one of the expert's bank details.")
    paymentMethod = serializers.ChoiceField(choices=list(METHODS))


class MonthlyIn(InputSerializer):
    expertId = serializers.CharField()
    month = serializers.CharField(help_text="YYYY-MM; the month must have ended.")
    payoutThreshold = AmountField(required=False, help_text="Pay only if the amount is at least this.")
    paymentMethod = serializers.ChoiceField(choices=list(METHODS), required=False, default="RAZORPAY")


def _expert_id(value):
    return parse_id(value, E.EXPERT_NOT_FOUND, "No such expert.")


COMMON = (
    E.VALIDATION_ERROR, E.MALFORMED_JSON, E.EXPERT_NOT_FOUND, E.USER_NOT_FOUND, E.BANK_ACCOUNT_NOT_FOUND,
    E.STRIPE_ACCOUNT_REQUIRED, *IDEMPOTENCY_ERRORS,
)


class ManualPayoutView(WebuddyView):
    service = staticmethod(services.payout_request_manual)  # calls the gateway between its phases

    @extend_schema(
        tags=TAGS,
        summary="Pay part of an expert's available balance to one of their bank accounts",
        request=ManualIn,
        responses={201: PayoutOut, **error_responses(*COMMON, E.INSUFFICIENT_BALANCE, E.WALLET_SUSPENDED, dialect="webuddy")},
    )
    def post(self, request):
        data = ManualIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        payout = self.service(
            tenant=request_tenant(request),
            expert_id=_expert_id(v["expertId"]),
            amount=v["amount"],
            bank_account_id=v["bankAccount"],
            payment_method=v["paymentMethod"],
            recovery=request.recovery,
        )
        return Response(PayoutOut(payout).data, status=status.HTTP_201_CREATED)


class MonthlyPayoutView(WebuddyView):
    service = staticmethod(services.payout_request_monthly)

    @extend_schema(
        tags=TAGS,
        summary="Pay an expert's balance earned up to the end of a month, if above the threshold",
        request=MonthlyIn,
        responses={
            201: PayoutOut,
            200: OpenApiResponse(SkippedOut, description="Nothing paid: the amount is below the threshold."),
            **error_responses(*COMMON, E.MONTH_NOT_ENDED, E.PAYOUT_ALREADY_EXISTS, E.WALLET_SUSPENDED, dialect="webuddy"),
        },
    )
    def post(self, request):
        data = MonthlyIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = self.service(
            tenant=request_tenant(request),
            expert_id=_expert_id(v["expertId"]),
            month=v["month"],
            threshold=v.get("payoutThreshold"),
            payment_method=v["paymentMethod"],
            recovery=request.recovery,
        )
        if isinstance(result, Payout):
            return Response(PayoutOut(result).data, status=status.HTTP_201_CREATED)
        skipped = {"status": "skipped", "reason": "below_threshold", "amount": result.amount, "currency": result.currency}
        return Response(SkippedOut(skipped).data, status=status.HTTP_200_OK)


class PayoutDetailView(WebuddyView):
    @extend_schema(tags=TAGS, summary="Get a payout", responses={200: PayoutOut, **error_responses(E.PAYOUT_NOT_FOUND, dialect="webuddy")})
    def get(self, request, payout_id):
        return Response(PayoutOut(payout_find(tenant=request_tenant(request), payout_id=payout_id)).data)


@event_renderer("payout", Tenant.Dialect.WEBUDDY)
def payout_event_data(payout: Payout) -> dict:
    """The payout as the service just changed it (its row, so as `GET /v1/payouts/{id}` renders it)."""
    return PayoutOut(payout).data
