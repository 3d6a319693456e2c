"""WeBuddy dialect (`/v1`, camelCase, Api-Key of a `webuddy`-dialect tenant): users, recharge,
history. Every id is looked up within the key's tenant."""
import math

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from wallets import replica, selectors
from wallets.api.auth import request_tenant
from wallets.api.base import WebuddyView
from wallets.api.rendering import iso_time
from wallets.api.fields import AmountField, InputSerializer, QueryIntegerField, QuerySerializer, refuse_blank
from wallets.api.filters import ENTRY_TYPES, StatementFilter
from wallets.api.schema import IDEMPOTENCY_ERRORS, error_responses
from wallets.errors import ErrorCode
from wallets.events import event_renderer
from wallets.models import Account, Entry, Recharge, Tenant, User
from wallets.money import amount_out, as_currency
from wallets.selectors import wallet_history
from wallets.services import recharges, users
from wallets.validation import MAX_QUERY_INT, parse_id

E = ErrorCode
TAGS = ["WeBuddy: users and wallet"]


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
    max_credits = AmountField(currency_source="wallet_currency", help_text="The user's credit limit.")
    settings = serializers.JSONField(help_text="The client's own JSON object, returned exactly as stored.")
    wallet = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    @extend_schema(responses=WalletSummaryOut)
    def get_wallet(self, user) -> dict | None:
        wallet = selectors.user_default_wallet(user=user)
        return None if wallet is None else render_wallet_summary(wallet)


def render_wallet_summary(wallet: Account) -> dict:
    """WalletSummaryOut's answer as a plain dict (tests/api/test_renderers.py holds the two equal)."""
    c = wallet.currency
    return {
        "balance": amount_out(wallet.balance, c),
        "heldBalance": amount_out(wallet.held_balance, c),
        "availableBalance": amount_out(wallet.available_balance, c),
        "currency": c,
        "status": wallet.status,
    }


class UserCreateIn(InputSerializer):
    phoneNumber = serializers.CharField(help_text="Any common format; stored as E.164.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    max_credits = AmountField(required=False, help_text="Credit limit: how far below zero the balance may go.")
    settings = serializers.DictField(required=False, default=dict)


class UserPatchIn(InputSerializer):
    phoneNumber = serializers.CharField(required=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    max_credits = AmountField(required=False)
    settings = serializers.DictField(required=False)


def render_user(user: User) -> dict:
    user.wallet_currency = user.tenant.default_currency
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
        user = users.user_create(
            tenant=request_tenant(request), phone_number=v["phoneNumber"], name=v.get("name", ""),
            max_credits=v.get("max_credits", 0), settings_=v.get("settings"),
        )
        return Response(render_user(user), status=status.HTTP_201_CREATED)


class UserDetailView(WebuddyView):
    @extend_schema(tags=TAGS, summary="Get a user", responses={200: UserOut, **error_responses(E.USER_NOT_FOUND, dialect="webuddy")})
    def get(self, request, user_id):
        return Response(render_user(selectors.user_find(tenant=request_tenant(request), user_id=user_id)))

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
        user = selectors.user_find(tenant=request_tenant(request), user_id=user_id)
        data = UserPatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = users.user_update(
            user=user,
            phone_number=v.get("phoneNumber"),
            name=v.get("name"),
            max_credits=v.get("max_credits"),
            settings_=v.get("settings"),
        )
        return Response(render_user(user))


# Wallet


class RechargeIn(InputSerializer):
    userId = serializers.CharField()
    amount = AmountField()
    paymentMethod = serializers.ChoiceField(choices=["RAZORPAY", "STRIPE"])


class CheckoutOut(serializers.Serializer):
    """What the payer's client needs to pay a live recharge: Razorpay Checkout's options, or the
    Stripe PaymentIntent to confirm."""

    keyId = serializers.CharField(required=False, help_text="Razorpay: the key id for Checkout.")
    orderId = serializers.CharField(required=False, help_text="Razorpay: the order to pay.")
    amount = serializers.IntegerField(required=False, help_text="Razorpay: in minor units (paise).")
    currency = serializers.CharField(required=False, help_text="Razorpay: the order's currency.")
    paymentIntentId = serializers.CharField(required=False, help_text="Stripe: the PaymentIntent.")
    clientSecret = serializers.CharField(required=False, help_text="Stripe: its client secret, for Stripe.js.")


class RechargeOut(serializers.Serializer):
    id = serializers.UUIDField()
    userId = serializers.UUIDField(source="user_id")
    amount = AmountField()
    currency = serializers.CharField()
    paymentMethod = serializers.CharField(source="payment_method")
    status = serializers.ChoiceField(choices=["pending", "succeeded", "failed"])
    providerOrderId = serializers.CharField(source="provider_order_id", allow_null=True)
    checkout = CheckoutOut(required=False, help_text="Live gateways only, while pending: what the client needs to pay.")
    createdAt = serializers.DateTimeField(source="created_at")
    wallet = WalletSummaryOut(source="account")


class RechargeView(WebuddyView):
    service = staticmethod(recharges.recharge_create)  # calls the gateway between its phases

    @extend_schema(
        tags=TAGS,
        summary="Recharge a wallet through Razorpay or Stripe",
        request=RechargeIn,
        responses={
            201: RechargeOut,
            **error_responses(
                E.VALIDATION_ERROR, E.MALFORMED_JSON, E.USER_NOT_FOUND, E.WALLET_SUSPENDED, E.GATEWAY_UNAVAILABLE,
                *IDEMPOTENCY_ERRORS, dialect="webuddy",
            ),
        },
    )
    def post(self, request):
        data = RechargeIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        recharge, _ = self.service(
            tenant=request_tenant(request),
            user_id=parse_id(v["userId"], E.USER_NOT_FOUND, "No such user."),
            amount=v["amount"],
            payment_method=v["paymentMethod"],
            recovery=request.recovery,
        )
        recharge.account.refresh_from_db()
        return Response(render_recharge(recharge), status=status.HTTP_201_CREATED)


def _checkout(checkout: dict) -> dict:
    """CheckoutOut's answer: the fields the gateway gave, in its order."""
    out = {}
    for name in ("keyId", "orderId", "amount", "currency", "paymentIntentId", "clientSecret"):
        if name in checkout:
            value = checkout[name]
            out[name] = None if value is None else int(value) if name == "amount" else str(value)
    return out


def render_recharge(recharge: Recharge) -> dict:
    """RechargeOut's answer as a plain dict (tests/api/test_renderers.py holds the two equal); the checkout
    only while there is something to pay."""
    c = recharge.currency
    body = {
        "id": str(recharge.id),
        "userId": str(recharge.user_id),
        "amount": amount_out(recharge.amount, c),
        "currency": c,
        "paymentMethod": recharge.payment_method,
        "status": recharge.status,
        "providerOrderId": recharge.provider_order_id,
    }
    if recharge.checkout and recharge.status == Recharge.Status.PENDING:
        body["checkout"] = _checkout(recharge.checkout)
    body["createdAt"] = iso_time(recharge.created_at)
    body["wallet"] = render_wallet_summary(recharge.account)
    return body


# Event data: what this dialect's own GET answers for the object (wallets.events).


@event_renderer("recharge", Tenant.Dialect.WEBUDDY)
def recharge_event_data(recharge: Recharge) -> dict:
    return render_recharge(recharge)


@event_renderer("wallet", Tenant.Dialect.WEBUDDY)
def wallet_event_data(wallet: Account) -> dict:
    """A WeBuddy wallet is seen through its user (`GET /v1/users/{id}`)."""
    return render_user(User.objects.select_related("tenant").get(pk=wallet.user_id))


@event_renderer("balance_low", Tenant.Dialect.WEBUDDY)
def balance_low_event_data(low) -> dict:
    currency = low.monitor.account.currency
    return {
        "monitorId": str(low.monitor.id),
        "userId": str(low.monitor.account.user_id),
        "below": as_currency(low.monitor.below, currency),
        "availableBalance": as_currency(low.available, currency),
        "currency": currency,
    }


class RechargeVerifyIn(InputSerializer):
    rechargeId = serializers.CharField()
    razorpayOrderId = serializers.CharField(max_length=100)
    razorpayPaymentId = serializers.CharField(max_length=100)
    razorpaySignature = serializers.CharField(max_length=200)


class RechargeVerifyView(WebuddyView):
    service = staticmethod(recharges.recharge_verify_razorpay)  # fetches (and captures) the payment

    @extend_schema(
        tags=TAGS,
        summary="Verify a Razorpay Checkout payment and credit the recharge",
        description=(
            "Checks `razorpaySignature` (HMAC-SHA256 of `order_id|payment_id` with the key secret) against the "
            "order the recharge was made with, fetches the payment, captures it if only authorized, and credits "
            "the wallet once when it is captured for that order, amount and currency. 200 with the recharge, also "
            "when the webhook credited it first."
        ),
        request=RechargeVerifyIn,
        responses={
            200: RechargeOut,
            **error_responses(
                E.VALIDATION_ERROR, E.MALFORMED_JSON, E.RECHARGE_NOT_FOUND, E.INVALID_SIGNATURE, E.PAYMENT_MISMATCH,
                E.PAYMENT_NOT_CAPTURED, E.GATEWAY_UNAVAILABLE, *IDEMPOTENCY_ERRORS, dialect="webuddy",
            ),
        },
    )
    def post(self, request):
        data = RechargeVerifyIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        recharge = self.service(
            tenant=request_tenant(request), recharge_id=v["rechargeId"], order_id=v["razorpayOrderId"],
            payment_id=v["razorpayPaymentId"], signature=v["razorpaySignature"],
        )
        return Response(render_recharge(recharge))


class RechargeDetailView(WebuddyView):
    @extend_schema(
        tags=TAGS,
        summary="Get a recharge",
        responses={200: RechargeOut, **error_responses(E.RECHARGE_NOT_FOUND, dialect="webuddy")},
    )
    def get(self, request, recharge_id):
        recharge = selectors.recharge_find(tenant=request_tenant(request), recharge_id=recharge_id)
        return Response(render_recharge(recharge))


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


class HistoryQuery(QuerySerializer):
    userId = serializers.CharField()
    page = QueryIntegerField(required=False, default=1, min_value=1)
    pageSize = QueryIntegerField(required=False, default=10, min_value=1, max_value=100)


def render_history_line(line: dict) -> dict:
    """HistoryItemOut's answer as a plain dict (tests/api/test_renderers.py holds the two equal)."""
    c = line["currency"]
    return {
        "id": str(line["transaction_id"]),
        "type": line["type"],
        "amount": amount_out(line["amount"], c),
        "currency": c,
        "direction": line["direction"],
        "balanceAfter": amount_out(line["balance_after"], c),
        "description": line["description"],
        "referenceType": line["reference_type"],
        "referenceId": line["reference_id"],
        "createdAt": iso_time(line["created_at"]),
    }


def history_body(history, page: int, size: int) -> dict:
    return {
        "items": [render_history_line(line) for line in history.lines],
        "page": page,
        "pageSize": size,
        "total": history.total,
        "totalPages": math.ceil(history.total / size),
    }


class HistoryView(WebuddyView):
    @extend_schema(
        tags=TAGS,
        summary="A wallet's transaction history, newest first",
        parameters=[
            HistoryQuery,
            OpenApiParameter("type", str, enum=ENTRY_TYPES),
            OpenApiParameter("from", str, description="ISO-8601 time, inclusive"),
            OpenApiParameter("to", str, description="ISO-8601 time, inclusive"),
        ],
        responses={200: HistoryOut, **error_responses(E.VALIDATION_ERROR, E.USER_NOT_FOUND, dialect="webuddy")},
    )
    @replica.lag_allowed
    def get(self, request):
        refuse_blank(request.query_params, StatementFilter.base_filters)
        query = HistoryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        wallet = selectors.webuddy_wallet(
            tenant=request_tenant(request), user_id=parse_id(q["userId"], E.USER_NOT_FOUND, "No such user.")
        )
        entries = None
        if any(name in request.query_params for name in StatementFilter.base_filters):
            filters = StatementFilter(request.query_params, queryset=Entry.objects.all())
            if not filters.is_valid():
                raise serializers.ValidationError({k: [str(m) for m in v] for k, v in filters.errors.items()})
            entries = filters.qs
        page, size = q["page"], q["pageSize"]
        history = wallet_history(wallets=[wallet], entries=entries, offset=(page - 1) * size, limit=size)
        return Response(history_body(history, page, size))
