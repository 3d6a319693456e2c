"""URL map: each API dialect mounted once, plus health, schema, docs and admin."""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from experts.api import webuddy as experts_webuddy
from kyc.api import tmr as kyc_tmr
from payouts.api import webuddy as payouts_webuddy
from sessions_app.api import webuddy as sessions_webuddy
from wallets.api import events as wallets_events
from wallets.api import tmr as wallets_tmr
from wallets.api import notifications as provider_notifications
from wallets.api import webuddy as wallets_webuddy
from wallets.api.health import healthz, metrics, readyz

webuddy = [
    path("users", wallets_webuddy.UsersView.as_view()),
    path("users/<str:user_id>", wallets_webuddy.UserDetailView.as_view()),
    path("wallet/recharge", wallets_webuddy.RechargeView.as_view()),
    path("wallet/recharge/verify", wallets_webuddy.RechargeVerifyView.as_view()),
    path("wallet/recharge/<str:recharge_id>", wallets_webuddy.RechargeDetailView.as_view()),
    path("wallet/history", wallets_webuddy.HistoryView.as_view()),
    path("wallet/monitors", wallets_events.MonitorsView.as_view()),
    path("wallet/monitors/<str:monitor_id>", wallets_events.MonitorDetailView.as_view()),
    path("sessions/start", sessions_webuddy.SessionStartView.as_view()),
    path("sessions/adjust", sessions_webuddy.SessionAdjustView.as_view()),
    path("sessions/end", sessions_webuddy.SessionEndView.as_view()),
    path("sessions/<str:session_id>", sessions_webuddy.SessionDetailView.as_view()),
    path("payouts/manual", payouts_webuddy.ManualPayoutView.as_view()),
    path("payouts/monthly", payouts_webuddy.MonthlyPayoutView.as_view()),
    path("payouts/<str:payout_id>", payouts_webuddy.PayoutDetailView.as_view()),
    path("experts/bank-details", experts_webuddy.BankDetailsView.as_view()),
    path("experts/<str:expert_id>/bank-details", experts_webuddy.ExpertBankDetailsView.as_view()),
    path("webhooks/razorpay", provider_notifications.RazorpayWebhookView.as_view()),
    path("webhooks/stripe", provider_notifications.StripeWebhookView.as_view()),
    path("webhook-endpoints", wallets_events.WebuddyEndpointsView.as_view()),
    path("webhook-endpoints/<str:endpoint_id>", wallets_events.WebuddyEndpointDetailView.as_view()),
    path("events", wallets_events.WebuddyEventsView.as_view()),
]

tmr = [
    path("auth/register", wallets_tmr.RegisterView.as_view()),
    path("auth/token", wallets_tmr.TokenView.as_view()),
    path("auth/token/refresh", wallets_tmr.TokenRefreshView.as_view()),
    path("wallet", wallets_tmr.WalletView.as_view()),
    path("wallet/charge", wallets_tmr.ChargeView.as_view()),
    path("wallet/withdraw", wallets_tmr.WithdrawView.as_view()),
    path("wallet/transactions", wallets_tmr.TransactionsView.as_view()),
    path("wallet/kyc", kyc_tmr.KycView.as_view()),
    path("wallet/escrow/freeze", wallets_tmr.FreezeView.as_view()),
    path("wallet/escrow/release", wallets_tmr.ReleaseView.as_view()),
    path("wallet/escrow/cancel", wallets_tmr.CancelView.as_view()),
    path("wallet/webhook-endpoints", wallets_events.TmrEndpointsView.as_view()),
    path("wallet/webhook-endpoints/<str:endpoint_id>", wallets_events.TmrEndpointDetailView.as_view()),
    path("wallet/events", wallets_events.TmrEventsView.as_view()),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("v1/", include(webuddy)),
    path("api/v1/", include(tmr)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # GET and HEAD only: the Swagger page has no OPTIONS answer (DRF's metadata through its HTML
    # template was a 500).
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", http_method_names=["get", "head"]),
         name="docs"),
    path("admin/", admin.site.urls),
]

handler400 = "wallets.api.errors.bad_request_view"
handler403 = "wallets.api.errors.forbidden_view"
handler404 = "wallets.api.errors.not_found_view"
handler500 = "wallets.api.errors.server_error_view"
