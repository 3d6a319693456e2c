"""Small views over the real services, to exercise the shared API plumbing before the dialects exist."""
import threading

from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response

from wallets.api.auth import IsEndUser, TmrScope, WebuddyScope
from wallets.api.base import ApiView
from wallets.api.fields import AmountField
from wallets.models import Account
from wallets.money import parse_amount
from wallets.services import postings

# Set by a test to hold a request inside its handler (to show the in-flight 409).
gate = {"entered": threading.Event(), "release": threading.Event(), "enabled": False}


class DepositIn(serializers.Serializer):
    walletId = serializers.UUIDField()
    amount = AmountField()


class DepositView(ApiView):
    permission_classes = [WebuddyScope]

    def post(self, request):
        data = DepositIn(data=request.data)
        data.is_valid(raise_exception=True)
        wallet = Account.objects.get(pk=data.validated_data["walletId"])
        amount = parse_amount(data.validated_data["amount"], wallet.currency)
        if gate["enabled"]:
            gate["entered"].set()
            gate["release"].wait(timeout=30)
        posted = postings.wallet_deposit(wallet=wallet, amount=amount)
        return Response({"transactionId": str(posted.transaction_id), "balance": posted.balance(wallet.id)}, status=201)


class TmrPingView(ApiView):
    permission_classes = [TmrScope]

    def post(self, request):
        return Response({"ok": True})


class MeView(ApiView):
    permission_classes = [IsEndUser]

    def get(self, request):
        return Response({"id": str(request.user.id)})


class Boom(ApiView):
    permission_classes = []

    def get(self, request):
        raise RuntimeError("unexpected")


urlpatterns = [
    path("v1/test/deposit", DepositView.as_view()),
    path("api/v1/test/deposit", DepositView.as_view()),
    path("v1/test/tmr", TmrPingView.as_view()),
    path("api/v1/test/me", MeView.as_view()),
    path("v1/test/boom", Boom.as_view()),
]
