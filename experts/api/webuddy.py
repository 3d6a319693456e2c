"""WeBuddy dialect: experts' bank details (add, list)."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from experts.models import BankDetail
from experts.selectors import bank_details_of, expert_find
from experts.services import bank_detail_add
from wallets.api.auth import request_tenant
from wallets.api.base import WebuddyView
from wallets.api.fields import InputSerializer
from wallets.api.schema import IDEMPOTENCY_ERRORS, error_responses
from wallets.errors import ErrorCode
from wallets.events import event_renderer
from wallets.models import Tenant

E = ErrorCode
TAGS = ["WeBuddy: experts"]


class BankDetailOut(serializers.Serializer):
    id = serializers.UUIDField()
    expertId = serializers.UUIDField(source="expert_id")
    bankName = serializers.CharField(source="bank_name")
    accountNumber = serializers.CharField(source="masked_account_number", help_text="Masked: XXXXXX and the last 4 digits.")
    ifscCode = serializers.CharField(source="ifsc_code")
    accountHolderName = serializers.CharField(source="account_holder_name")
    branchName = serializers.CharField(source="branch_name")
    isPrimary = serializers.BooleanField(source="is_primary")
    stripeAccountId = serializers.CharField(source="stripe_account_id", required=False,
                                            help_text="The expert's Stripe connected account, for STRIPE payouts (when set).")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data.get("stripeAccountId") is None:
            data.pop("stripeAccountId", None)
        return data
    createdAt = serializers.DateTimeField(source="created_at")


class BankDetailIn(InputSerializer):
    expertId = serializers.CharField()
    bankName = serializers.CharField(max_length=100)
    accountNumber = serializers.CharField(help_text="9 to 18 digits.")
    ifscCode = serializers.CharField(help_text="Like HDFC0001234.")
    accountHolderName = serializers.CharField(max_length=150)
    branchName = serializers.CharField(required=False, allow_blank=True, max_length=150, default="")
    stripeAccountId = serializers.CharField(required=False, allow_null=True, max_length=64, default=None,
                                            help_text="Optional: `acct_...`, the Stripe connected account STRIPE payouts go to.")


class BankDetailListOut(serializers.Serializer):
    items = BankDetailOut(many=True)


class BankDetailsView(WebuddyView):
    @extend_schema(
        tags=TAGS,
        summary="Add a bank account for an expert (the first one is primary)",
        request=BankDetailIn,
        responses={
            201: BankDetailOut,
            **error_responses(E.VALIDATION_ERROR, E.MALFORMED_JSON, E.EXPERT_NOT_FOUND, E.BANK_ACCOUNT_EXISTS, *IDEMPOTENCY_ERRORS, dialect="webuddy"),
        },
    )
    def post(self, request):
        data = BankDetailIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        detail = bank_detail_add(
            expert=expert_find(tenant=request_tenant(request), expert_id=v["expertId"]),
            bank_name=v["bankName"],
            account_number=v["accountNumber"],
            ifsc_code=v["ifscCode"],
            account_holder_name=v["accountHolderName"],
            branch_name=v.get("branchName", ""),
            stripe_account_id=v.get("stripeAccountId"),
        )
        return Response(BankDetailOut(detail).data, status=status.HTTP_201_CREATED)


class ExpertBankDetailsView(WebuddyView):
    @extend_schema(
        tags=TAGS,
        summary="List an expert's bank accounts",
        responses={200: BankDetailListOut, **error_responses(E.EXPERT_NOT_FOUND, dialect="webuddy")},
    )
    def get(self, request, expert_id):
        expert = expert_find(tenant=request_tenant(request), expert_id=expert_id)
        return Response({"items": BankDetailOut(bank_details_of(expert=expert), many=True).data})


@event_renderer("bank_detail", Tenant.Dialect.WEBUDDY)
def bank_detail_event_data(bank: BankDetail) -> dict:
    return BankDetailOut(bank).data
