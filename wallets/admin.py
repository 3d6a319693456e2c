"""Back-office screens of the core: users, wallets (suspend, reactivate, adjust), the ledger
(read-only for everyone, superusers included: history is corrected by reversing or adjusting,
never edited), escrows, recharges, provider notifications, reconcile runs; the events screens are in
`wallets/admin_events.py`, API keys in `wallets/admin_keys.py` (both registered from here).

Actions call `wallets.services` and are logged through `wallets.backoffice.audit`.
"""
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from wallets import tenants
from wallets.backoffice import (
    NoWrites,
    ReadOnlyAdmin,
    AsciiDecimalField,
    Figure,
    TransactionTenantFilter,
    audit,
    dashboard_figure,
    held_by_currency,
    reasoned_action,
    require_perm,
)
from wallets.errors import DomainError, ErrorCode
from wallets.models import (
    Account,
    Entry,
    Escrow,
    GatewayEvent,
    Hold,
    JournalTransaction,
    Recharge,
    ReconcileRun,
    Tenant,
    User,
)
from wallets.money import CURRENCIES, as_currency
from wallets.services import accounts, adjustments

admin.site.site_header = "Wallet back office"
admin.site.site_title = "Wallet back office"
admin.site.index_title = "Money, users and reviews"


# Tenants


class TenantForm(forms.ModelForm):
    currencies = forms.CharField(
        help_text=f"Comma-separated, the default first; of {', '.join(CURRENCIES)}.",
    )

    class Meta:
        model = Tenant
        fields = ("code", "name", "dialect", "currencies", "platform_fee_percent")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["currencies"] = ", ".join(self.instance.currencies)

    def clean_currencies(self):
        return [part.strip().upper() for part in str(self.cleaned_data["currencies"]).split(",") if part.strip()]

    def clean(self):
        data = super().clean()
        code = self.instance.code if self.instance.pk else data.get("code", "")
        dialect = self.instance.dialect if self.instance.pk else data.get("dialect", "")
        try:
            tenants.tenant_validate(
                code=code, name=data.get("name", ""), dialect=dialect, currencies=data.get("currencies", []),
                platform_fee_percent=data.get("platform_fee_percent"),
            )
        except DomainError as exc:
            for field, messages_ in (exc.fields or {"__all__": [exc.message]}).items():
                self.add_error(field if field in self.fields else None, messages_)
        return data


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    """The marketplaces. A new one gets its system accounts at once; then give it API keys."""

    form = TenantForm
    list_display = ("code", "name", "dialect", "currency_list", "platform_fee_percent", "created_at")
    fields = ("code", "name", "dialect", "currencies", "platform_fee_percent")

    @admin.display(description="currencies")
    def currency_list(self, tenant):
        return ", ".join(tenant.currencies)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("code", "dialect")

    def has_delete_permission(self, request, obj=None):
        return False  # a tenant owns money and history

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                saved = tenants.tenant_update(
                    tenant=obj, name=data["name"], currencies=data["currencies"],
                    platform_fee_percent=data.get("platform_fee_percent"),
                )
            else:
                saved = tenants.tenant_create(
                    code=data["code"], name=data["name"], dialect=data["dialect"], currencies=data["currencies"],
                    platform_fee_percent=data.get("platform_fee_percent"),
                )
        except DomainError as exc:  # raced with another admin; the form checked everything else
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk, obj.created_at = saved.pk, saved.created_at
        obj._state.adding = False
        obj._state.db = saved._state.db


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("id", "tenant", "username", "phone_number", "name", "max_credits", "is_staff", "created_at")
    search_fields = ("username", "phone_number", "name", "id")
    ordering = ("-created_at",)
    list_filter = ("tenant", "is_staff", "is_active", "groups")
    list_select_related = ("tenant",)
    fieldsets = (
        (None, {"fields": ("tenant", "username", "password")}),
        ("Profile", {"fields": ("name", "phone_number", "max_credits", "settings")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "password1", "password2")}),)
    # The credit limit moves with the wallet's, and phone numbers are normalized and kept unique, by
    # users.user_update (the API's PATCH); admin does not bypass it.
    readonly_fields = ("tenant", "max_credits", "phone_number")

    def has_delete_permission(self, request, obj=None):
        return False  # users own ledger history; deactivate instead


# Wallets


def _describe_wallet(account) -> str:
    if account.user_id is None:
        return f"system account {account.system_code} ({account.currency}, stripe {account.stripe})"
    owner = account.user.name or account.user.username or account.user.phone_number or account.user_id
    return f"{owner}: {account.currency} wallet, balance {account.balance}, {account.status}"


def _suspend(request, wallet, reason):
    return accounts.wallet_suspend(wallet=wallet)


def _reactivate(request, wallet, reason):
    return accounts.wallet_reactivate(wallet=wallet)


class AdjustmentForm(forms.Form):
    wallet = forms.ModelChoiceField(
        queryset=Account.objects.filter(kind=Account.Kind.WALLET).select_related("user"),
        widget=forms.TextInput(attrs={"size": 40}),
        help_text="The wallet's id (open the wallet and use “Post adjustment” to fill it in).",
        error_messages={"invalid_choice": "No such wallet."},
    )
    direction = forms.ChoiceField(choices=adjustments.AdjustmentDirection.choices, widget=forms.RadioSelect)
    amount = AsciiDecimalField(help_text="In the wallet's currency.")
    reason = forms.CharField(max_length=240, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))
    # One id per opened form: submitting it twice (double click, reload) posts once.
    submission = forms.UUIDField(widget=forms.HiddenInput)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "tenant", "owner", "kind", "currency", "balance_shown", "held_shown", "available", "credit_shown", "status",
    )
    list_filter = ("tenant", "kind", "currency", "status", "system_code")
    search_fields = ("=id", "user__username", "user__phone_number", "user__name")
    list_select_related = ("user",)
    fields = (
        "id", "tenant", "kind", "owner", "system_code", "stripe", "currency", "status",
        "balance_shown", "held_shown", "available", "credit_shown", "created_at", "updated_at", "recent_entries",
    )
    readonly_fields = fields
    actions = ("suspend_wallets", "reactivate_wallets")
    change_form_template = "admin/wallets/account/change_form.html"

    suspend_wallets = reasoned_action(
        description="Suspend selected wallets", permission="suspend", apply=_suspend, done="Suspended",
        describe=_describe_wallet,
    )
    reactivate_wallets = reasoned_action(
        description="Reactivate selected wallets", permission="suspend", apply=_reactivate, done="Reactivated",
        describe=_describe_wallet,
    )

    def has_suspend_permission(self, request):
        return request.user.has_perm("wallets.suspend_account")

    def has_adjust_permission(self, request):
        return request.user.has_perm("wallets.adjust_account")

    @admin.display(description="owner", ordering="user__name")
    def owner(self, account):
        if account.user_id is None:
            return f"system: {account.system_code}"
        return account.user.name or account.user.username or account.user.phone_number or account.user_id

    @admin.display(description="balance", ordering="balance")
    def balance_shown(self, account):
        return as_currency(account.balance, account.currency)

    @admin.display(description="held", ordering="held_balance")
    def held_shown(self, account):
        return as_currency(account.held_balance, account.currency)

    @admin.display(description="available")
    def available(self, account):
        return as_currency(account.available_balance, account.currency)

    @admin.display(description="credit limit", ordering="credit_limit")
    def credit_shown(self, account):
        return as_currency(account.credit_limit, account.currency)

    @admin.display(description="recent entries")
    def recent_entries(self, account):
        entries = Entry.objects.filter(account_id=account.pk).order_by("-created_at", "-id")[:20]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href='{}'>{}</a></td></tr>",
            (
                (
                    e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    e.type,
                    "held" if e.bucket == 1 else "available",
                    as_currency(e.amount, e.currency),
                    "" if e.balance_after is None else as_currency(e.balance_after, e.currency),
                    reverse("admin:wallets_journaltransaction_change", args=[e.transaction_id]),
                    str(e.transaction_id)[:13] + "…",
                )
                for e in entries
            ),
        )
        return format_html(
            "<table id='recent-entries'><thead><tr><th>at</th><th>type</th><th>part</th><th>amount</th>"
            "<th>balance after</th><th>transaction</th></tr></thead><tbody>{}</tbody></table>",
            rows or format_html("<tr><td colspan='6'>No entries yet.</td></tr>"),
        )

    def get_urls(self):
        return [
            path("adjust/", self.admin_site.admin_view(self.adjust_view), name="wallets_account_adjust"),
            *super().get_urls(),
        ]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_adjust": self.has_adjust_permission(request)}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_adjust": self.has_adjust_permission(request)}
        return super().changelist_view(request, extra_context)

    def adjust_view(self, request):
        """Post a credit or debit against the adjustments account, with the reason and the staff user."""
        require_perm(request, "wallets.adjust_account", "wallets.view_account")
        initial = {"wallet": request.GET.get("wallet"), "submission": uuid.uuid4()}
        form = AdjustmentForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            wallet = form.cleaned_data["wallet"]
            direction, amount = form.cleaned_data["direction"], form.cleaned_data["amount"]
            reason = form.cleaned_data["reason"].strip()
            try:
                with transaction.atomic():
                    posted = adjustments.wallet_adjust(
                        wallet=wallet, direction=direction, amount=amount, reason=reason, staff=request.user,
                        submission=str(form.cleaned_data["submission"]),
                    )
                    audit(
                        request, wallet,
                        what=f"Adjustment ({direction}) of {amount} {wallet.currency}, transaction {posted.transaction_id}.",
                        why=reason,
                    )
            except DomainError as exc:
                if exc.code != ErrorCode.DUPLICATE_EXTERNAL_KEY:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(request, "This adjustment was already posted; nothing was posted again.",
                                      messages.WARNING)
                    return redirect("admin:wallets_account_change", wallet.pk)
            else:
                balance, _ = posted.balances[wallet.pk]
                self.message_user(
                    request,
                    f"Adjustment posted: {direction} {amount} {wallet.currency}; balance now {balance} "
                    f"(transaction {posted.transaction_id}).",
                    messages.SUCCESS,
                )
                return redirect("admin:wallets_account_change", wallet.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Post an adjustment",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/wallets/account/adjust.html", context)


# The ledger: read-only for everyone


class EntryInline(NoWrites, admin.TabularInline):
    model = Entry
    fields = ("account", "bucket", "amount", "currency", "type", "balance_after", "held_after")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(JournalTransaction)
class JournalTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "description", "reference_type", "reference_id", "created_by", "created_at")
    list_filter = (TransactionTenantFilter, "kind", "reference_type", "created_at")
    search_fields = ("=id", "reference_id", "external_key", "description")
    date_hierarchy = "created_at"
    list_select_related = ("created_by",)
    inlines = [EntryInline]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "tenant", "transaction_id", "account", "bucket", "amount", "currency", "type", "balance_after", "created_at",
    )
    list_filter = ("account__tenant", "type", "currency", "bucket", "created_at")
    search_fields = ("=transaction__id", "=account_id", "transaction__reference_id")
    date_hierarchy = "created_at"
    list_select_related = ("account",)

    @admin.display(description="tenant", ordering="account__tenant")
    def tenant(self, entry):
        return entry.account.tenant_id


dashboard_figure(Figure(
    key="held-escrows", label="Held in escrow", permission="wallets.view_escrow", order=40,
    compute=lambda tenant: held_by_currency(Hold.objects.filter(
        escrow__status=Escrow.Status.FROZEN, status=Hold.Status.ACTIVE, account__tenant=tenant,
    )),
))


@admin.register(Escrow)
class EscrowAdmin(ReadOnlyAdmin):
    list_display = (
        "order_id", "tenant", "user", "amount", "currency", "status", "payee", "fee", "payout_amount", "created_at",
    )
    list_filter = ("tenant", "status", "currency", "created_at")
    search_fields = ("order_id", "user__username", "payee__username")
    list_select_related = ("user", "payee")


@admin.register(Recharge)
class RechargeAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "tenant", "user", "amount", "currency", "payment_method", "status", "provider_order_id", "created_at",
    )
    list_filter = ("account__tenant", "status", "payment_method", "currency", "created_at")
    search_fields = ("=id", "provider_order_id", "provider_payment_id", "user__name", "user__phone_number")
    list_select_related = ("user", "account")

    @admin.display(description="tenant", ordering="account__tenant")
    def tenant(self, recharge):
        return recharge.account.tenant_id


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdmin):
    """The payment providers' signed events, each recorded once, with what was done with it."""

    list_display = ("received_at", "provider", "event_type", "event_id", "outcome", "object_type", "object_id", "detail")
    list_filter = ("provider", "outcome", "event_type", "received_at")
    search_fields = ("=event_id", "=object_id", "detail")
    date_hierarchy = "received_at"
    fields = list_display + ("payload",)
    readonly_fields = fields


@admin.register(ReconcileRun)
class ReconcileRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "ok", "accounts_checked", "transactions_checked", "started_at", "finished_at")
    list_filter = ("ok",)


from wallets import admin_events, admin_keys  # noqa: E402, F401  (register the events and API keys screens)
