"""Experts' bank details (account numbers masked; the ciphertext never reaches a screen) and fee rates."""
from django.contrib import admin

from experts.models import BankDetail, ExpertProfile
from wallets.admin import ReadOnlyAdmin


@admin.register(BankDetail)
class BankDetailAdmin(ReadOnlyAdmin):
    list_display = (
        "expert", "tenant", "bank_name", "account_number", "ifsc_code", "account_holder_name", "is_primary", "created_at",
    )
    list_filter = ("expert__tenant", "is_primary", "bank_name")
    search_fields = ("expert__name", "expert__phone_number", "account_holder_name", "ifsc_code", "account_last4")
    list_select_related = ("expert",)
    fields = ("expert", "bank_name", "account_number", "ifsc_code", "account_holder_name", "branch_name", "is_primary", "created_at")
    readonly_fields = fields

    @admin.display(description="tenant", ordering="expert__tenant")
    def tenant(self, bank):
        return bank.expert.tenant_id

    @admin.display(description="account number")
    def account_number(self, bank):
        return f"****{bank.account_last4}"


@admin.register(ExpertProfile)
class ExpertProfileAdmin(ReadOnlyAdmin):
    list_display = ("user", "tenant", "platform_fee_percent")
    list_filter = ("user__tenant",)

    @admin.display(description="tenant", ordering="user__tenant")
    def tenant(self, profile):
        return profile.user.tenant_id
    search_fields = ("user__name", "user__phone_number")
    list_select_related = ("user",)
