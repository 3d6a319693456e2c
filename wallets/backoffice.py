"""Shared pieces of the back office (Django admin): the audit log, actions that ask why, and the
finance dashboard's figures.

Every staff action calls a service (the same one the API calls) and is written to admin's LogEntry
with who did it, what was done and why; where the service runs in one transaction, the log row is
written in that same transaction.
"""
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import DecimalField, Exists, ExpressionWrapper, F, OuterRef, Sum
from django.template.response import TemplateResponse

from wallets.errors import DomainError
from wallets.money import as_currency
from wallets.validation import parse_ascii_decimal

logger = logging.getLogger(__name__)

__all__ = [
    "ADDITION", "CHANGE", "audit", "reasoned_action", "ReasonForm", "dashboard", "dashboard_figure", "Figure",
    "held_by_currency", "require_perm", "TransactionTenantFilter", "AsciiDecimalField",
]


def audit(request, obj, *, what: str, why: str = "", flag: int = CHANGE, model=None) -> LogEntry:
    """One admin log row: who (the request's user), what, and why, on `obj` (or on `model` when
    the action concerns no single row, such as a monthly run)."""
    message = what if not why else f"{what} Reason: {why}"
    content_type = ContentType.objects.get_for_model(model or type(obj), for_concrete_model=False)
    return LogEntry.objects.create(
        user_id=request.user.pk,
        content_type=content_type,
        object_id=None if obj is None else str(obj.pk),
        object_repr=str(obj if obj is not None else model._meta.verbose_name_plural)[:200],
        action_flag=flag,
        change_message=message,
    )


def require_perm(request, *perms: str) -> None:
    if not request.user.is_active or not request.user.is_staff or not request.user.has_perms(perms):
        raise PermissionDenied


class AsciiDecimalField(forms.CharField):
    """A non-negative amount typed with the digits 0-9 (Django's DecimalField also reads other
    scripts' digits, so one amount could be typed many ways)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return parse_ascii_decimal(value, field="amount")
        except DomainError as exc:
            raise forms.ValidationError(exc.fields["amount"][0]) from None


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=255, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))

    def __init__(self, *args, required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required


def reasoned_action(*, description: str, permission: str, apply, done: str, reason_required: bool = True,
                    one_transaction: bool = True, describe=str):
    """An admin action that first shows the chosen rows and asks why, then calls `apply(request,
    obj, reason)` (a service call) for each row and logs it. A refusal of one row is reported and
    leaves the others done. `one_transaction=False` for services that call a gateway (no
    transaction may be open around them). `describe(obj)` names a row on the page and in messages."""

    def action(modeladmin, request, queryset):
        form = ReasonForm(request.POST if "confirm" in request.POST else None, required=reason_required)
        if "confirm" in request.POST and form.is_valid():
            reason = form.cleaned_data["reason"].strip()
            succeeded, refused = 0, []
            for obj in queryset:
                try:
                    if one_transaction:
                        with transaction.atomic():
                            result = apply(request, obj, reason)
                            audit(request, result or obj, what=f"{done}.", why=reason)
                    else:
                        result = apply(request, obj, reason)
                        audit(request, result or obj, what=f"{done}.", why=reason)
                    succeeded += 1
                except DomainError as exc:
                    refused.append(f"{describe(obj)}: {exc.message}")
                except Exception:  # noqa: BLE001 - e.g. a gateway error: report it, go on with the rest
                    logger.exception("%s failed for %s", description, obj)
                    refused.append(f"{describe(obj)}: it failed unexpectedly (logged); try again later")
            if succeeded:
                modeladmin.message_user(request, f"{done}: {succeeded}.", messages.SUCCESS)
            for line in refused:
                modeladmin.message_user(request, f"Refused — {line}", messages.ERROR)
            return None
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": description,
            "opts": modeladmin.model._meta,
            "objects": [describe(obj) for obj in queryset],
            "form": form,
            "action": request.POST.get("action"),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "reason_required": reason_required,
        }
        return TemplateResponse(request, "admin/backoffice/confirm_action.html", context)

    action.short_description = description
    action.allowed_permissions = (permission,)
    return action


# Tenants in admin lists


class TransactionTenantFilter(admin.SimpleListFilter):
    """Journal transactions by tenant: those with an entry on one of the tenant's accounts (a
    transaction never touches two tenants)."""

    title = "tenant"
    parameter_name = "tenant"

    def lookups(self, request, model_admin):
        from wallets.models import Tenant

        return [(t.code, t.name) for t in Tenant.objects.order_by("code")]

    def queryset(self, request, queryset):
        from wallets.models import Entry

        if not self.value():
            return queryset
        return queryset.filter(Exists(Entry.objects.filter(transaction=OuterRef("pk"), account__tenant_id=self.value())))


# The dashboard: each app registers the figures of its own (in its admin module), so the core never
# reads the apps above it.


@dataclass(frozen=True)
class Figure:
    """One row of the dashboard: a figure per tenant, for staff with `permission`. `compute(tenant)`
    gives a count or {currency: amount}; `link(tenant)` the list it comes from, filtered."""

    key: str
    label: str
    permission: str
    compute: Callable
    link: Callable | None = None
    order: int = 100


@dataclass(frozen=True)
class Cell:
    tenant: object
    value: object
    link: str | None

    @property
    def text(self) -> str:
        if isinstance(self.value, dict):
            return ", ".join(f"{amount} {currency}" for currency, amount in self.value.items()) or "0"
        return str(self.value)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    cells: list[Cell]


@dataclass(frozen=True)
class Dashboard:
    tenants: list
    rows: list[Row]
    last_reconcile: object | None
    can_see_reconcile: bool

    def value(self, key: str, tenant_code: str):
        """A figure by its key and tenant code, or None when the user may not see it."""
        for row in self.rows:
            if row.key == key:
                return next(cell.value for cell in row.cells if cell.tenant.code == tenant_code)
        return None


_figures: dict[str, Figure] = {}


def dashboard_figure(figure: Figure) -> Figure:
    """Add a row to the dashboard (idempotent by key)."""
    _figures[figure.key] = figure
    return figure


def held_by_currency(holds) -> dict:
    """{currency: what the holds still hold}, each total in its currency's exponent."""
    remaining = ExpressionWrapper(F("amount") - F("captured") - F("released"), output_field=DecimalField())
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in holds.values("currency").annotate(total=Sum(remaining)).order_by("currency"):
        totals[row["currency"]] += row["total"] or Decimal(0)
    return {currency: as_currency(total, currency) for currency, total in totals.items()}


def dashboard(user) -> Dashboard | None:
    """The figures the user may see, a column per tenant, or None for staff who may see none."""
    from wallets.models import ReconcileRun, Tenant

    visible = sorted((f for f in _figures.values() if user.has_perm(f.permission)), key=lambda f: (f.order, f.key))
    can_see_reconcile = user.has_perm("wallets.view_reconcilerun")
    if not visible and not can_see_reconcile:
        return None
    tenants = list(Tenant.objects.order_by("code"))
    rows = [
        Row(key=f.key, label=f.label,
            cells=[Cell(tenant=t, value=f.compute(t), link=f.link(t) if f.link else None) for t in tenants])
        for f in visible
    ]
    return Dashboard(
        tenants=tenants,
        rows=rows,
        last_reconcile=ReconcileRun.objects.order_by("-finished_at").first() if can_see_reconcile else None,
        can_see_reconcile=can_see_reconcile,
    )


class NoWrites:
    """Nobody adds, changes or deletes these rows through admin, superusers included."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoWrites, admin.ModelAdmin):
    """Viewable with the model's view permission only."""
