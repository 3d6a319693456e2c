"""TMR Land dialect (`/api/v1/...`, snake_case): sign-up and tokens, the user's USD/USDC wallet and
its transactions (JWT), and order escrow for the orders service (Api-Key of a `tmr`-dialect tenant;
users and orders are looked up within the key's tenant)."""
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from wallets import replica, selectors
from wallets.api.auth import ApiKeyAuthentication, caller_wallet, is_end_user, request_tenant
from wallets.api.base import ApiView, TmrKeyView, UserView
from wallets.api.rendering import iso_time
from wallets.api.fields import AmountField, IdField, InputSerializer, QueryIntegerField, QuerySerializer
from wallets.api.filters import ENTRY_TYPES
from wallets.api.schema import IDEMPOTENCY_ERRORS, tmr_errors
from wallets.errors import ErrorCode
from wallets.events import event_renderer
from wallets.models import Account, Entry, Escrow, Tenant
from wallets.money import amount_out, as_currency, parse_amount
from wallets.network import client_ip
from wallets.selectors import wallet_history
from wallets.services import accounts, postings, users
from wallets.services.escrow import escrow_cancel, escrow_freeze, escrow_release
from wallets.tenants import tenant_end_users

E = ErrorCode
CURRENCIES = ["USD", "USDC"]
TYPES = ENTRY_TYPES


# Auth


class CredentialsIn(InputSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class RegisteredOut(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()


class TokensOut(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshIn(InputSerializer):
    refresh = serializers.CharField()


class AccessOut(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField(required=False, help_text="Only when refresh tokens rotate.")


class AnonymousView(ApiView):
    authentication_classes = []
    permission_classes = []
    idempotent = False
    schema_auth: list = []


class RegistrationByKey(permissions.BasePermission):
    """Anyone signs up to TMR Land; with an API key, only a TMR-dialect tenant's, for its own users."""

    message = "Only a TMR Land-dialect key may register users."

    def has_permission(self, request, view):
        return request.user is None or getattr(request.user, "scope", None) == Tenant.Dialect.TMR


class RegisterView(AnonymousView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [RegistrationByKey]
    schema_auth = [{}, {"ApiKey": []}]

    @extend_schema(
        tags=["TMR Land: auth"],
        summary="Create an account (with a wallet in the default currency, USD)",
        description=(
            "Without credentials the account is TMR Land's. A service of another marketplace of this "
            "dialect registers its own users with its `Api-Key`."
        ),
        request=CredentialsIn,
        responses={
            201: RegisteredOut,
            **tmr_errors(E.VALIDATION_ERROR, E.MALFORMED_JSON, E.USERNAME_TAKEN, E.PERMISSION_DENIED, authenticated=False),
        },
    )
    def post(self, request):
        data = CredentialsIn(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = tenant_end_users() if request.user is None else request_tenant(request)
        user = users.user_register(tenant=tenant, **data.validated_data)
        return Response({"id": str(user.id), "username": user.username}, status=status.HTTP_201_CREATED)


class TokenView(AnonymousView):
    @extend_schema(
        tags=["TMR Land: auth"],
        summary="Exchange username and password for an access and a refresh token",
        description="Repeated failures for one username or from one address are refused for a while (429, `Retry-After`).",
        request=CredentialsIn,
        responses={
            200: TokensOut,
            **tmr_errors(E.VALIDATION_ERROR, E.MALFORMED_JSON, E.NOT_AUTHENTICATED, E.RATE_LIMITED, authenticated=False),
        },
    )
    def post(self, request):
        data = CredentialsIn(data=request.data)
        data.is_valid(raise_exception=True)
        username, ip = data.validated_data["username"], client_ip(request)
        wait = users.login_retry_after(username=username, ip=ip)
        if wait:
            raise exceptions.Throttled(wait=wait)
        user = authenticate(request._request, username=username, password=data.validated_data["password"])
        if user is not None and not is_end_user(user):
            user = None  # staff and WeBuddy users do not sign in to the TMR Land wallet
        if user is None:
            users.login_failure_record(username=username, ip=ip)
            raise exceptions.AuthenticationFailed("The username or password is wrong.")
        users.login_failures_clear(username=username)
        refresh = RefreshToken.for_user(user)
        return Response({"access": str(refresh.access_token), "refresh": str(refresh)})


class TokenRefreshView(AnonymousView):
    @extend_schema(
        tags=["TMR Land: auth"],
        summary="A new access token for a refresh token",
        request=RefreshIn,
        responses={200: AccessOut, **tmr_errors(E.VALIDATION_ERROR, E.MALFORMED_JSON, E.NOT_AUTHENTICATED, authenticated=False)},
    )
    def post(self, request):
        data = RefreshIn(data=request.data)
        data.is_valid(raise_exception=True)
        serializer = TokenRefreshSerializer(data=data.validated_data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError:
            raise exceptions.AuthenticationFailed("The refresh token is invalid or expired.") from None
        return Response(serializer.validated_data)


# The signed-in user's wallet


class WalletOut(serializers.Serializer):
    id = serializers.UUIDField()
    user_id = serializers.UUIDField()
    balance = AmountField(help_text="Total, frozen funds included.")
    frozen_balance = AmountField(source="held_balance")
    currency = serializers.ChoiceField(choices=CURRENCIES)
    status = serializers.ChoiceField(choices=Account.Status.values)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CurrencyQuery(QuerySerializer):
    currency = serializers.ChoiceField(choices=CURRENCIES, required=False, default="USD")


class MoneyIn(InputSerializer):
    amount = AmountField(help_text="Greater than 0; at most 2 decimals for USD, 6 for USDC.")
    currency = serializers.ChoiceField(choices=CURRENCIES, required=False, default="USD")

    def validate(self, attrs):
        # The amount is checked against its currency before any wallet is looked up.
        attrs["amount"] = parse_amount(attrs["amount"], attrs["currency"])
        return attrs


def render_wallet(wallet: Account) -> dict:
    """WalletOut's answer as a plain dict (tests/api/test_renderers.py holds the two equal)."""
    return {
        "id": str(wallet.id),
        "user_id": str(wallet.user_id),
        "balance": as_currency(wallet.balance, wallet.currency),
        "frozen_balance": as_currency(wallet.held_balance, wallet.currency),
        "currency": wallet.currency,
        "status": wallet.status,
        "created_at": iso_time(wallet.created_at),
        "updated_at": iso_time(wallet.updated_at),
    }


def _posted_wallet(wallet: Account, posted) -> dict:
    """The wallet after a posting: the posting returned its new balances (no second read)."""
    wallet.balance, wallet.held_balance = posted.balances[wallet.id]
    wallet.updated_at = posted.created_at
    wallet.status = Account.Status.ACTIVE  # the posting found it active under its lock
    return render_wallet(wallet)


class WalletView(UserView):
    @extend_schema(
        tags=["TMR Land: wallet"],
        summary="The signed-in user's wallet",
        parameters=[CurrencyQuery],
        responses={200: WalletOut, **tmr_errors(E.VALIDATION_ERROR, E.WALLET_NOT_FOUND)},
    )
    def get(self, request):
        query = CurrencyQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        currency = query.validated_data["currency"]
        wallet = caller_wallet(request, currency) or selectors.user_wallet(
            tenant=request_tenant(request), user_id=request.user.pk, currency=currency
        )
        return Response(render_wallet(wallet))


class ChargeView(UserView):
    @extend_schema(
        tags=["TMR Land: wallet"],
        summary="Add funds (a simulated deposit); a USDC wallet is opened by its first charge",
        request=MoneyIn,
        responses={
            200: WalletOut,
            **tmr_errors(E.VALIDATION_ERROR, E.MALFORMED_JSON, E.WALLET_SUSPENDED, E.CURRENCY_NOT_SUPPORTED, *IDEMPOTENCY_ERRORS),
        },
    )
    def post(self, request):
        data = MoneyIn(data=request.data)
        data.is_valid(raise_exception=True)
        currency = data.validated_data["currency"]
        wallet = caller_wallet(request, currency) or accounts.wallet_get_or_create(user=request.user, currency=currency)
        posted = postings.wallet_deposit(wallet=wallet, amount=data.validated_data["amount"], description="Manual deposit")
        return Response(_posted_wallet(wallet, posted))


class WithdrawView(UserView):
    @extend_schema(
        tags=["TMR Land: wallet"],
        summary="Withdraw funds (needs balance - frozen >= amount)",
        request=MoneyIn,
        responses={
            200: WalletOut,
            **tmr_errors(E.VALIDATION_ERROR, E.MALFORMED_JSON, E.INSUFFICIENT_BALANCE, E.WALLET_NOT_FOUND, E.WALLET_SUSPENDED, *IDEMPOTENCY_ERRORS),
        },
    )
    def post(self, request):
        data = MoneyIn(data=request.data)
        data.is_valid(raise_exception=True)
        currency = data.validated_data["currency"]
        wallet = caller_wallet(request, currency) or selectors.user_wallet(
            tenant=request_tenant(request), user_id=request.user.pk, currency=currency
        )
        posted = postings.wallet_withdraw(wallet=wallet, amount=data.validated_data["amount"], description="Withdrawal")
        return Response(_posted_wallet(wallet, posted))


class TransactionOut(serializers.Serializer):
    id = serializers.UUIDField(source="transaction_id")
    wallet_id = serializers.UUIDField(source="account_id")
    type = serializers.ChoiceField(choices=TYPES)
    amount = AmountField()
    currency = serializers.CharField()
    description = serializers.CharField()
    reference_id = serializers.CharField(allow_null=True)
    reference_type = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class TransactionsOut(serializers.Serializer):
    items = TransactionOut(many=True)
    total = serializers.IntegerField()


class TransactionsQuery(QuerySerializer):
    offset = QueryIntegerField(required=False, default=0, min_value=0)
    limit = QueryIntegerField(required=False, default=20, min_value=1, max_value=100)
    type = serializers.ChoiceField(choices=TYPES, required=False)
    currency = serializers.ChoiceField(choices=CURRENCIES, required=False)


class TransactionsView(UserView):
    @extend_schema(
        tags=["TMR Land: wallet"],
        summary="The user's wallet transactions, newest first",
        parameters=[TransactionsQuery],
        responses={200: TransactionsOut, **tmr_errors(E.VALIDATION_ERROR)},
    )
    @replica.lag_allowed
    def get(self, request):
        query = TransactionsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        wallets = selectors.user_wallets(tenant=request_tenant(request), user=request.user, currency=q.get("currency"))
        entries = Entry.objects.filter(type=q["type"]) if "type" in q else None
        history = wallet_history(wallets=wallets, entries=entries, offset=q["offset"], limit=q["limit"])
        return Response({"items": TransactionOut(history.lines, many=True).data, "total": history.total})


# Escrow, for the orders service


class EscrowOut(serializers.Serializer):
    order_id = serializers.CharField()
    user_id = serializers.UUIDField()
    amount = AmountField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=Escrow.Status.values)
    payee_id = serializers.UUIDField(allow_null=True)
    fee = AmountField(allow_null=True)
    payout_amount = AmountField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def render_escrow(escrow: Escrow) -> dict:
    """EscrowOut's answer as a plain dict (tests/api/test_renderers.py holds the two equal)."""
    c = escrow.currency
    return {
        "order_id": escrow.order_id,
        "user_id": str(escrow.user_id),
        "amount": amount_out(escrow.amount, c),
        "currency": c,
        "status": escrow.status,
        "payee_id": None if escrow.payee_id is None else str(escrow.payee_id),
        "fee": amount_out(escrow.fee, c),
        "payout_amount": amount_out(escrow.payout_amount, c),
        "created_at": iso_time(escrow.created_at),
        "updated_at": iso_time(escrow.updated_at),
    }


class FreezeIn(MoneyIn):
    user_id = IdField()
    order_id = serializers.CharField(max_length=64)


class ReleaseIn(InputSerializer):
    order_id = serializers.CharField(max_length=64)
    payee_id = IdField()


class CancelIn(InputSerializer):
    order_id = serializers.CharField(max_length=64)


ESCROW_TAGS = ["TMR Land: escrow (orders service)"]
COMMON = (E.VALIDATION_ERROR, E.MALFORMED_JSON, *IDEMPOTENCY_ERRORS)


class FreezeView(TmrKeyView):
    @extend_schema(
        tags=ESCROW_TAGS,
        summary="Freeze an order's amount on the buyer's wallet",
        request=FreezeIn,
        responses={
            201: EscrowOut,
            **tmr_errors(*COMMON, E.USER_NOT_FOUND, E.WALLET_NOT_FOUND, E.INSUFFICIENT_BALANCE, E.WALLET_SUSPENDED, E.ORDER_ALREADY_EXISTS),
        },
    )
    def post(self, request):
        data = FreezeIn(data=request.data)
        data.is_valid(raise_exception=True)
        escrow = escrow_freeze(tenant=request_tenant(request), **data.validated_data)
        return Response(render_escrow(escrow), status=status.HTTP_201_CREATED)


class ReleaseView(TmrKeyView):
    @extend_schema(
        tags=ESCROW_TAGS,
        summary="Release a frozen order to the payee, less the platform fee",
        request=ReleaseIn,
        responses={200: EscrowOut, **tmr_errors(*COMMON, E.ORDER_NOT_FOUND, E.ORDER_NOT_FROZEN, E.USER_NOT_FOUND)},
    )
    def post(self, request):
        data = ReleaseIn(data=request.data)
        data.is_valid(raise_exception=True)
        escrow = escrow_release(tenant=request_tenant(request), **data.validated_data)
        return Response(render_escrow(escrow))


class CancelView(TmrKeyView):
    @extend_schema(
        tags=ESCROW_TAGS,
        summary="Cancel a frozen order: the amount goes back to the buyer",
        request=CancelIn,
        responses={200: EscrowOut, **tmr_errors(*COMMON, E.ORDER_NOT_FOUND, E.ORDER_NOT_FROZEN)},
    )
    def post(self, request):
        data = CancelIn(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(render_escrow(escrow_cancel(tenant=request_tenant(request), **data.validated_data)))


# Event data: what this dialect's own GET answers for the object (wallets.events).


@event_renderer("wallet", Tenant.Dialect.TMR)
def wallet_event_data(wallet: Account) -> dict:
    return render_wallet(wallet)


@event_renderer("escrow", Tenant.Dialect.TMR)
def escrow_event_data(escrow: Escrow) -> dict:
    return render_escrow(escrow)
