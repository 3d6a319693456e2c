"""Back-office screens for the core (the finance workflows come with the back-office work).

Ledger rows are read-only for everyone, superusers included: history is corrected by reversing
transactions, never edited.
"""
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from wallets.models import Account, ApiKey, Entry, JournalTransaction, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("id", "username", "phone_number", "name", "max_credits", "is_staff", "created_at")
    search_fields = ("username", "phone_number", "name", "id")
    ordering = ("-created_at",)
    list_filter = ("is_staff", "is_active")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("name", "phone_number", "max_credits", "settings")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "password1", "password2")}),)
    readonly_fields = ("max_credits",)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "user", "system_code", "stripe", "currency", "balance", "held_balance", "status")
    list_filter = ("kind", "currency", "status", "system_code")
    search_fields = ("id", "user__username", "user__phone_number", "user__name")
    list_select_related = ("user",)


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ("account", "bucket", "amount", "currency", "type", "balance_after")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(JournalTransaction)
class JournalTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "description", "reference_type", "reference_id", "created_at")
    list_filter = ("kind", "reference_type", "created_at")
    search_fields = ("id", "reference_id", "external_key", "description")
    date_hierarchy = "created_at"
    inlines = [EntryInline]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "transaction_id", "account", "bucket", "amount", "currency", "type", "created_at")
    list_filter = ("type", "currency", "bucket", "created_at")
    search_fields = ("transaction__id", "account__id")
    list_select_related = ("account",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "scope", "prefix", "is_active", "created_at")
    list_filter = ("scope", "is_active")
    fields = ("name", "scope", "prefix", "is_active", "created_at")
    readonly_fields = ("prefix", "created_at")

    def has_add_permission(self, request):
        return False  # keys are created by `create_api_key`, which shows the key once
