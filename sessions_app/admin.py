"""Consultation sessions, read-only: money on them moves only through the session services."""
from django.contrib import admin

from sessions_app.models import ConsultationSession
from wallets.admin import ReadOnlyAdmin
from wallets.backoffice import Figure, dashboard_figure, held_by_currency
from wallets.models import Hold

dashboard_figure(Figure(
    key="held-sessions", label="Held in active sessions", permission="sessions_app.view_consultationsession", order=30,
    compute=lambda tenant: held_by_currency(Hold.objects.filter(
        session__status=ConsultationSession.Status.ACTIVE, status=Hold.Status.ACTIVE, account__tenant=tenant,
    )),
))


@admin.register(ConsultationSession)
class ConsultationSessionAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "tenant", "user", "expert", "status", "currency", "session_fee", "current_fee", "fee_deferred",
        "actual_fee", "expert_earning", "platform_fee", "started_at", "ended_at",
    )
    list_filter = ("wallet__tenant", "status", "fee_deferred", "currency", "started_at")
    search_fields = ("=id", "user__name", "user__phone_number", "expert__name", "expert__phone_number")
    list_select_related = ("user", "expert", "wallet")
    date_hierarchy = "started_at"

    @admin.display(description="tenant", ordering="wallet__tenant")
    def tenant(self, session):
        return session.wallet.tenant_id
