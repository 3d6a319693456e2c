"""Payouts: the list with totals per status, retry (failed -> a new attempt) and cancel (pending
only), and the monthly run, which previews what it will pay before it pays and runs the same code
as `run_monthly_payouts`."""
import uuid
from collections import Counter
from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Sum
from django.template.response import TemplateResponse
from django.urls import path, reverse

from payouts.models import Payout
from payouts.runs import monthly_run
from payouts.services import payout_cancel, payout_retry
from wallets.backoffice import (
    AsciiDecimalField,
    Figure,
    audit,
    dashboard_figure,
    reasoned_action,
    require_perm,
)
from wallets.errors import DomainError
from wallets.models import Tenant, User
from wallets.money import as_currency


def _retry(request, payout, reason):
    return payout_retry(payout_id=payout.pk)


def _cancel(request, payout, reason):
    return payout_cancel(payout_id=payout.pk, reason=reason)


def _previous_month() -> str:
    today = date.today()
    year, month = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
    return f"{year:04d}-{month:02d}"


class MonthlyRunForm(forms.Form):
    month = forms.RegexField(regex=r"^[0-9]{4}-(0[1-9]|1[0-2])\Z", help_text="YYYY-MM, a month that has ended.",
                             error_messages={"invalid": "Enter a month as YYYY-MM."})
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.filter(dialect=Tenant.Dialect.WEBUDDY), required=False,
        empty_label="every WeBuddy-dialect tenant",
    )
    threshold = AsciiDecimalField(required=False,
                                  help_text="Pay only balances of at least this much (default: the deployment's threshold).")
    dry_run = forms.BooleanField(required=False, initial=True, label="Dry run (show what would be paid; pay nothing)")


def _payouts_link(status):
    return lambda tenant: (
        f"{reverse('admin:payouts_payout_changelist')}?status__exact={status}&wallet__tenant__code__exact={tenant.code}"
    )


for _status, _label, _order in ((Payout.Status.PROCESSING, "Payouts processing", 20), (Payout.Status.FAILED, "Payouts failed", 21)):
    dashboard_figure(Figure(
        key=f"payouts-{_status}", label=_label, permission="payouts.view_payout", order=_order,
        compute=lambda tenant, status=_status: Payout.objects.filter(status=status, wallet__tenant=tenant).count(),
        link=_payouts_link(_status),
    ))


@admin.register(Payout)
class PayoutAdmin(admin.ModelAdmin):
    list_display = (
        "reference", "tenant", "expert", "amount_shown", "currency", "status", "kind", "month", "payment_method", "bank",
        "created_at",
    )
    list_display_links = ("reference",)
    list_filter = (
        "wallet__tenant", "status", "kind", "month", "payment_method",
        ("expert", admin.RelatedOnlyFieldListFilter), "created_at",
    )
    search_fields = ("=id", "expert__name", "expert__phone_number", "provider_payout_id")
    list_select_related = ("expert", "bank_account", "wallet")
    fields = (
        "id", "expert", "wallet", "amount", "currency", "kind", "month", "payment_method", "bank", "status",
        "provider_payout_id", "failure_reason", "retry_of", "created_at", "updated_at",
    )
    readonly_fields = fields
    actions = ("retry_payouts", "cancel_payouts")
    change_list_template = "admin/payouts/payout/change_list.html"

    retry_payouts = reasoned_action(
        description="Retry selected failed payouts", permission="retry", apply=_retry, done="Retried",
        one_transaction=False,  # the retry calls the gateway: no transaction may be open around it
    )
    cancel_payouts = reasoned_action(
        description="Cancel selected pending payouts", permission="cancel", apply=_cancel, done="Cancelled"
    )

    @admin.display(description="tenant", ordering="wallet__tenant")
    def tenant(self, payout):
        return payout.wallet.tenant_id

    @admin.display(description="amount", ordering="amount")
    def amount_shown(self, payout):
        return as_currency(payout.amount, payout.currency)

    @admin.display(description="payout", ordering="id")
    def reference(self, payout):
        return str(payout.id)[:13] + "…"

    @admin.display(description="bank account")
    def bank(self, payout):
        bank = payout.bank_account
        return f"{bank.bank_name} ****{bank.account_last4}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("payouts.retry_payout")

    def has_cancel_permission(self, request):
        return request.user.has_perm("payouts.cancel_payout")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_run_monthly": request.user.has_perm("payouts.run_monthly_payouts")}
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            totals = (
                changelist.queryset.order_by().values("status", "currency")
                .annotate(count=Count("id"), total=Sum("amount")).order_by("status", "currency")
            )
            response.context_data["status_totals"] = [
                {**row, "total": as_currency(row["total"], row["currency"])} for row in totals
            ]
        return response

    def get_urls(self):
        return [
            path("run-monthly/", self.admin_site.admin_view(self.run_monthly_view), name="payouts_payout_run_monthly"),
            *super().get_urls(),
        ]

    def run_monthly_view(self, request):
        """Step 1: month, threshold, dry run -> the preview. Step 2 (not a dry run): confirm -> pay."""
        require_perm(request, "payouts.run_monthly_payouts", "payouts.view_payout")
        form = MonthlyRunForm(request.POST or None, initial={"month": _previous_month(), "dry_run": True})
        context = {**self.admin_site.each_context(request), "title": "Run monthly payouts", "opts": self.model._meta}
        if request.method == "POST" and form.is_valid():
            month, threshold = form.cleaned_data["month"], form.cleaned_data["threshold"]
            tenant = form.cleaned_data["tenant"]
            dry_run, confirmed = form.cleaned_data["dry_run"], "pay" in request.POST
            try:
                rows = monthly_run(month=month, threshold=threshold, dry_run=dry_run or not confirmed, tenant=tenant)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                names = dict(User.objects.filter(pk__in=[row["expert"] for row in rows]).values_list("pk", "name"))
                for row in rows:
                    row["name"] = names.get(uuid.UUID(row["expert"]), "")
                    if row["amount"] is not None:
                        row["amount"] = as_currency(row["amount"], row["currency"])
                counts = Counter(row["result"] for row in rows)
                paid_like = ("paid", "processing", "would_pay", "would_resume")
                totals: dict[str, Decimal] = {}
                for row in rows:
                    if row["result"] in paid_like:
                        totals[row["currency"]] = totals.get(row["currency"], Decimal(0)) + row["amount"]
                total = ", ".join(f"{amount} {currency}" for currency, amount in sorted(totals.items())) or "0"
                summary = ", ".join(f"{key}: {value}" for key, value in sorted(counts.items())) or "no experts"
                if confirmed and not dry_run:
                    audit(
                        request, None, model=Payout,
                        what=f"Ran monthly payouts for {month} (threshold {threshold if threshold is not None else 'default'}): "
                             f"{summary}; {total} in total.",
                    )
                    self.message_user(request, f"Monthly payouts for {month}: {summary}.", messages.SUCCESS)
                context.update(
                    rows=rows, counts=sorted(counts.items()), total=total, month=month, threshold=threshold, tenant=tenant,
                    stage="done" if confirmed and not dry_run else "preview", dry_run=dry_run,
                    payable=counts.get("would_pay", 0) + counts.get("would_resume", 0),
                )
        context["form"] = form
        return TemplateResponse(request, "admin/payouts/payout/run_monthly.html", context)
