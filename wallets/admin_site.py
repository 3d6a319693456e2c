"""The back office's admin site: a second factor (TOTP, django-otp) for everyone who can move money,
and sign-ins throttled like the API's (per username and per client address).

With ADMIN_OTP_REQUIRED (on whenever DEBUG is off), a superuser or a staff user holding any of
MONEY_PERMISSIONS must sign in with a code from a TOTP device (`python manage.py otp_enroll USERNAME`
makes one and prints its QR code); without a verified device such a user is refused at sign-in and
every admin page treats them as signed out. Staff who can only look do not need one (but are asked
for a code once they have a device).
"""
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.urls import URLResolver
from django_otp import devices_for_user
from django_otp.forms import OTPAuthenticationFormMixin

from wallets import replica
from wallets.network import client_ip
from wallets.roles import MONEY_PERMISSIONS
from wallets.services import users


def moves_money(user) -> bool:
    return user.is_superuser or any(user.has_perm(f"{app}.{codename}") for app, codename in MONEY_PERMISSIONS)


def second_factor_required(user) -> bool:
    return bool(settings.ADMIN_OTP_REQUIRED and user.is_active and user.is_staff and moves_money(user))


class StaffLoginForm(AdminAuthenticationForm, OTPAuthenticationFormMixin):
    otp_device = forms.CharField(required=False, widget=forms.Select)
    otp_token = forms.CharField(required=False, label="Code from your authenticator app",
                                widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}))
    otp_challenge = forms.CharField(required=False)

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many failed sign-ins. Try again in %(seconds)s seconds.",
        "enrolment_required": (
            "Your role can move money, so it needs a second factor and you have none yet. Ask a "
            "superuser to run `python manage.py otp_enroll %(username)s` and scan the QR code it prints."
        ),
    }

    def clean(self):
        username = (self.cleaned_data.get("username") or "")[:150]
        ip = client_ip(self.request) if self.request is not None else "unknown"
        wait = users.login_retry_after(username=username, ip=ip)
        if wait:
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled", params={"seconds": wait})
        try:
            super().clean()  # the password, and is_staff
            user = self.get_user()
            if user is None:
                return self.cleaned_data  # a field was missing: its own error says so
            if any(devices_for_user(user)):
                self.clean_otp(user)
            elif second_factor_required(user):
                raise forms.ValidationError(self.error_messages["enrolment_required"], code="enrolment_required",
                                            params={"username": user.get_username()})
        except forms.ValidationError as error:
            if getattr(error, "code", None) != "enrolment_required":
                users.login_failure_record(username=username, ip=ip)
            raise
        users.login_failures_clear(username=username)
        return self.cleaned_data


def _lists_may_lag(patterns) -> None:
    """Every model's list page (`*_changelist`) reads from the replica when it may (a GET with no
    recent write of this staff member's: wallets/replica.py), its page rendered inside the scope."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _lists_may_lag(pattern.url_patterns)
        elif (pattern.name or "").endswith("_changelist"):
            pattern.callback = replica.rendered_with_lag(pattern.callback)


class BackOfficeSite(admin.AdminSite):
    login_form = StaffLoginForm
    login_template = "admin/backoffice/login.html"

    def login(self, request, extra_context=None):
        """The sign-in page says when its code field is needed: with a device, and (in production)
        for everyone who can move money; the quick start's logins have no device."""
        context = {"second_factor_required": settings.ADMIN_OTP_REQUIRED, "quick_start": settings.DEBUG,
                   **(extra_context or {})}
        return super().login(request, extra_context=context)

    def get_urls(self):
        urls = super().get_urls()
        _lists_may_lag(urls)
        return urls

    def has_permission(self, request):
        if not super().has_permission(request):
            return False
        return not second_factor_required(request.user) or request.user.is_verified()
