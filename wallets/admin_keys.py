"""Back-office screen of API keys: created here with the key shown once, renamed or deactivated
(never deleted: the prefix stays reserved and the history readable)."""
from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from wallets.models import ApiKey
from wallets.services import api_keys


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("name", "tenant")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "scope", "prefix", "is_active", "created_at")
    list_filter = ("tenant", "is_active")
    list_select_related = ("tenant",)
    search_fields = ("name", "prefix")
    fields = ("name", "tenant", "scope", "prefix", "is_active", "created_at")

    @admin.display(description="scope (the tenant's dialect)")
    def scope(self, key):
        return key.tenant.dialect

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
            kwargs["fields"] = ("name", "tenant")
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("name", "tenant") if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("tenant", "scope", "prefix", "created_at")

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: the prefix stays reserved and the history readable

    def save_model(self, request, obj, form, change):
        if change:
            api_keys.api_key_update(key=obj, name=obj.name, is_active=obj.is_active)
            return
        key, raw = api_keys.api_key_create(name=obj.name, tenant=obj.tenant)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = key.pk, key.prefix, key.key_hash, key.created_at
        obj._state.adding = False
        obj._state.db = key._state.db
        self.message_user(
            request,
            format_html("New {} key “{}” ({}): <code id='new-api-key'>{}</code> — copy it now, it is not shown again.",
                        key.tenant.name, key.name, key.scope, raw),
            messages.WARNING,
        )
