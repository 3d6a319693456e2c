"""WeBuddy dialect (`/v1`, camelCase, Api-Key scope `webuddy`): users, recharge, history."""
import math
import uuid

import django_filters
from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from wallets import services
from wallets.api.auth import WebuddyScope
from wallets.api.base import ApiView
from wallets.api.fields import AmountField
from wallets.api.schema import IDEMPOTENCY_ERRORS, error_responses
from wallets.errors import DomainError, ErrorCode
from wallets.models import Account, Entry, User
from wallets.selectors import statement_line, wallet_statement

E = ErrorCode
TAGS = ["WeBuddy: users and wallet"]


def parse_id(value, code: ErrorCode, message: str) -> uuid.UUID:
    """An id from a path or body; anything that is not one of ours is simply not found."""
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise DomainError(code, message) from None


def find_user(user_id) -> User:
    user = User.objects.filter(pk=parse_id(user_id, E.USER_NOT_FOUND, "No such user.")).first()
    if user is None:
        raise DomainError(E.USER_NOT_FOUND, "No such user.")
    return user


class WebuddyView(ApiView):
    permission_classes = [WebuddyScope]
    schema_auth = [{"ApiKey": []}]


# Serializers


class WalletSummaryOut(serializers.Serializer):
    balance = AmountField()
    heldBalance = AmountField(source="held_balance")
    availableBalance = AmountField(source="available_balance")
    currency = serializers.CharField()
    status = serializers.CharField()


class UserOut(serializers.Serializer):
    id = serializers.UUIDField()
    phoneNumber = serializers.CharField(source="phone_number", help_text="E.164")
    name = serializers.CharField()
    max_credits = AmountField(currency_source="webuddy_currency", help_text="The user's credit limit.")
    settings = serializers.JSONField()
    wallet = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    @extend_schema(responses=WalletSummaryOut)
    def get_wallet(self, user) -> dict | None:
        wallet = Account.objects.filter(
            kind=Account.Kind.WALLET, user=user, currency=settings.WEBUDDY_CURRENCY
        ).first()
        return None if wallet is None else WalletSummaryOut(wallet).data


class UserCreateIn(serializers.Serializer):
    phoneNumber = serializers.CharField(help_text="Any common format; stored as E.164.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    max_credits = AmountField(required=False, help_text="Credit limit: how far below zero the balance may go.")
    settings = serializers.DictField(required=False, default=dict)


class UserPatchIn(serializers.Serializer):
    phoneNumber = serializers.CharField(required=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    max_credits = AmountField(required=False)
    settings = serializers.DictField(required=False)


def render_user(user: User) -> dict:
    user.webuddy_currency = settings.WEBUDDY_CURRENCY
    return UserOut(user).data


# Users


class UsersView(WebuddyView):
    @extend_schema(
        tags=TAGS,
        summary="Create a user (and their wallet)",
        request=UserCreateIn,
        responses={201: UserOut, **error_responses(E.VALIDATION_ERROR, E.MALFORMED_JSON, E.PHONE_NUMBER_TAKEN, *IDEMPOTENCY_ERRORS, dialect="webuddy")},
    )
    def post(self, request):
        data = UserCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = services.user_create(
            phone_number=v["phoneNumber"], name=v.get("name", ""), max_credits=v.get("max_credits", 0), settings_=v.get("settings")
        )
        return Response(render_user(user), status=status.HTTP_201_CREATED)


class UserDetailView(WebuddyView):
    @extend_schema(tags=TAGS, summary="Get a user", responses={200: UserOut, **error_responses(E.USER_NOT_FOUND, dialect="webuddy")})
    def get(self, request, user_id):
        return Response(render_user(find_user(user_id)))

    @extend_schema(
        tags=TAGS,
        summary="Update a user (only the fields sent)",
        request=UserPatchIn,
        responses={
            200: UserOut,
            **error_responses(
                E.VALIDATION_ERROR, E.MALFORMED_JSON, E.USER_NOT_FOUND, E.PHONE_NUMBER_TAKEN, E.CREDIT_IN_USE,
                *IDEMPOTENCY_ERRORS, dialect="webuddy",
            ),
        },
    )
    def patch(self, request, user_id):
        user = find_user(user_id)
        data = UserPatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = services.user_update(
            user=user,
            phone_number=v.get("phoneNumber"),
            name=v.get("name"),
            max_credits=v.get("max_credits"),
            settings_=v.get("settings"),
        )
        return Response(render_user(user))


# Wallet


class RechargeIn(serializers.Serializer):
    userId = serializers.CharField()
    amount = AmountField()
    paymentMethod = serializers.ChoiceField(choices=["RAZORPAY", "STRIPE"])


class RechargeOut(serializers.Serializer):
    id = serializers.UUIDField()
    userId = serializers.UUIDField(source="user_id")
    amount = AmountField()
    currency = serializers.CharField()
    paymentMethod = serializers.CharField(source="payment_method")
    status = serializers.ChoiceField(choices=["pending", "succeeded", "failed"])
    providerOrderId = serializers.CharField(source="provider_order_id", allow_null=True)
    checkout = serializers.DictField(
        source="client_data", required=False, help_text="Live gateways only: what the client needs to pay."
    )
    createdAt = serializers.DateTimeField(source="created_at")
    wallet = WalletSummaryOut(source="account")


class RechargeView(WebuddyView):
    @extend_schema(
        tags=TAGS,
        summary="Recharge a wallet through Razorpay or Stripe",
        request=RechargeIn,
        responses={
            201: RechargeOut,
            **error_responses(
                E.VALIDATION_ERROR, E.MALFORMED_JSON, E.USER_NOT_FOUND, E.WALLET_SUSPENDED, *IDEMPOTENCY_ERRORS,
                dialect="webuddy",
            ),
        },
    )
    def post(self, request):
        data = RechargeIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        recharge, client_data = services.recharge_create(
            user_id=parse_id(v["userId"], E.USER_NOT_FOUND, "No such user."),
            amount=v["amount"],
            payment_method=v["paymentMethod"],
        )
        recharge.account.refresh_from_db()
        recharge.client_data = client_data
        body = RechargeOut(recharge).data
        if not client_data:
            body.pop("checkout")
        return Response(body, status=status.HTTP_201_CREATED)


class HistoryFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(
        field_name="type",
        choices=[(t, t) for t in ("deposit", "withdrawal", "freeze", "unfreeze", "debit", "credit", "fee", "refund", "adjustment")],
    )
    from_ = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    to = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Entry
        fields = ["type"]


HistoryFilter.base_filters["from"] = HistoryFilter.base_filters.pop("from_")


class HistoryItemOut(serializers.Serializer):
    id = serializers.UUIDField(source="transaction_id")
    type = serializers.CharField()
    amount = AmountField()
    currency = serializers.CharField()
    direction = serializers.ChoiceField(choices=["credit", "debit"])
    balanceAfter = AmountField(source="balance_after")
    description = serializers.CharField()
    referenceType = serializers.CharField(source="reference_type", allow_null=True)
    referenceId = serializers.CharField(source="reference_id", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")


class HistoryOut(serializers.Serializer):
    items = HistoryItemOut(many=True)
    page = serializers.IntegerField()
    pageSize = serializers.IntegerField()
    total = serializers.IntegerField()
    totalPages = serializers.IntegerField()


class HistoryQuery(serializers.Serializer):
    userId = serializers.CharField()
    page = serializers.IntegerField(required=False, default=1, min_value=1)
    pageSize = serializers.IntegerField(required=False, default=10, min_value=1, max_value=100)


class HistoryView(WebuddyView):
    @extend_schema(
        tags=TAGS,
        summary="A wallet's transaction history, newest first",
        parameters=[
            HistoryQuery,
            OpenApiParameter("type", str, enum=list(dict(HistoryFilter.base_filters["type"].extra["choices"]))),
            OpenApiParameter("from", str, description="ISO-8601 time, inclusive"),
            OpenApiParameter("to", str, description="ISO-8601 time, inclusive"),
        ],
        responses={200: HistoryOut, **error_responses(E.VALIDATION_ERROR, E.USER_NOT_FOUND, dialect="webuddy")},
    )
    def get(self, request):
        query = HistoryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        wallet = services.webuddy_wallet(user_id=parse_id(q["userId"], E.USER_NOT_FOUND, "No such user."))
        filtered = any(request.query_params.get(name) for name in ("type", "from", "to"))
        entries = None
        if filtered:
            filters = HistoryFilter(request.query_params, queryset=Entry.objects.all())
            if not filters.is_valid():
                raise serializers.ValidationError({k: [str(m) for m in v] for k, v in filters.errors.items()})
            entries = filters.qs
        lines = wallet_statement(wallet=wallet, entries=entries)
        page, size = q["page"], q["pageSize"]
        # Unfiltered, the wallet's own line counter answers the total without counting entries.
        total = lines.count() if filtered else wallet.statement_lines
        rows = [statement_line({**row, "currency": wallet.currency}) for row in lines[(page - 1) * size : page * size]]
        return Response(
            {
                "items": HistoryItemOut(rows, many=True).data,
                "page": page,
                "pageSize": size,
                "total": total,
                "totalPages": math.ceil(total / size),
            }
        )
