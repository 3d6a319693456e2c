"""People: WeBuddy users made by the partner's backend, TMR Land users who sign up, and the throttle
on failed logins. A user's first wallet opens with them, in their tenant's default currency."""
from datetime import timedelta
from decimal import Decimal

import phonenumbers
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from wallets.errors import DomainError, ErrorCode
from wallets.models import Account, LoginFailure, Tenant, User
from wallets.money import parse_amount
from wallets.validation import invalid, json_document_check


def phone_number_normalize(value, *, field: str = "phoneNumber") -> str:
    """A phone number in E.164 (`+919876543210`), parsed with the deployment's default region."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(field, "A phone number is required.")
    if any(ch.isdigit() and not ch.isascii() for ch in value):
        # phonenumbers reads other scripts' digits too; one number must have one spelling here.
        raise invalid(field, "Write the number with the digits 0-9.")
    try:
        number = phonenumbers.parse(value, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise invalid(field, "Not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise invalid(field, "Not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone_taken() -> DomainError:
    return DomainError(ErrorCode.PHONE_NUMBER_TAKEN, "Another user already has this phone number.")


def user_create(
    *, tenant: Tenant, phone_number: str, name: str = "", max_credits=Decimal(0), settings_: dict | None = None
) -> User:
    """A user of the tenant (a WeBuddy user) and their wallet in its default currency, credit limit
    `max_credits`. A phone number names one user within a tenant (409 `phone_number_taken`)."""
    currency = tenant.default_currency
    phone = phone_number_normalize(phone_number)
    limit = parse_amount(max_credits, currency, field="max_credits", allow_zero=True)
    settings_ = json_document_check(settings_ or {}, field="settings")
    if User.objects.filter(tenant=tenant, phone_number=phone).exists():
        raise _phone_taken()
    try:
        with transaction.atomic():
            user = User(tenant=tenant, phone_number=phone, name=name or "", max_credits=limit, settings=settings_)
            user.set_unusable_password()
            user.save()
            Account.objects.create(
                tenant=tenant, kind=Account.Kind.WALLET, user=user, currency=currency, credit_limit=limit
            )
    except IntegrityError:
        raise _phone_taken() from None
    return user


def user_update(*, user: User, phone_number=None, name=None, max_credits=None, settings_=None) -> User:
    """Change what was sent; a new `max_credits` becomes the wallet's credit limit in the same
    transaction, and may not go below what the user already owes (409 `credit_in_use`)."""
    currency = user.tenant.default_currency
    phone = None if phone_number is None else phone_number_normalize(phone_number)
    if settings_ is not None:
        settings_ = json_document_check(settings_, field="settings")
    limit = None if max_credits is None else parse_amount(max_credits, currency, field="max_credits", allow_zero=True)
    try:
        with transaction.atomic():
            locked = User.objects.select_for_update().get(pk=user.pk)
            changed = []
            if phone is not None and phone != locked.phone_number:
                if User.objects.filter(tenant_id=locked.tenant_id, phone_number=phone).exclude(pk=locked.pk).exists():
                    raise _phone_taken()
                locked.phone_number = phone
                changed.append("phone_number")
            if name is not None:
                locked.name = name
                changed.append("name")
            if settings_ is not None:
                locked.settings = settings_
                changed.append("settings")
            if limit is not None:
                locked.max_credits = limit
                changed.append("max_credits")
                wallet = (
                    Account.objects.select_for_update()
                    .filter(kind=Account.Kind.WALLET, user=locked, currency=currency)
                    .first()
                )
                if wallet is not None:
                    owed = wallet.held_balance - wallet.balance
                    if owed > limit:
                        raise DomainError(
                            ErrorCode.CREDIT_IN_USE,
                            f"The user already uses {owed} of credit; max_credits cannot go below that.",
                        )
                    wallet.credit_limit = limit
                    wallet.save(update_fields=["credit_limit", "updated_at"])
            if changed:
                locked.save(update_fields=[*changed, "updated_at"])
    except IntegrityError:
        raise _phone_taken() from None
    return locked


def user_register(*, tenant: Tenant, username: str, password: str) -> User:
    """A TMR Land user with a password (Django's validators) and a wallet in the tenant's default
    currency (USD)."""
    username = (username or "").strip()
    if not username:
        raise invalid("username", "This field is required.")
    candidate = User(username=username)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, f"password: {exc.messages[0]}", fields={"password": list(exc.messages)}
        ) from None
    taken = DomainError(ErrorCode.USERNAME_TAKEN, "This username is taken.")
    if User.objects.filter(username__iexact=username).exists():
        raise taken
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password, tenant=tenant)
            Account.objects.create(tenant=tenant, kind=Account.Kind.WALLET, user=user, currency=tenant.default_currency)
    except IntegrityError:
        raise taken from None
    return user


def login_retry_after(*, username: str, ip: str) -> int:
    """Seconds until another login may be tried for this username or from this IP (0: now)."""
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    since = timezone.now() - window
    waits = []
    for condition in (Q(username=username.lower()), Q(ip=ip)):
        recent = list(
            LoginFailure.objects.filter(condition, failed_at__gt=since).order_by("-failed_at")
            .values_list("failed_at", flat=True)[: settings.LOGIN_FAILURE_LIMIT]
        )
        if len(recent) >= settings.LOGIN_FAILURE_LIMIT:
            waits.append((recent[-1] + window - timezone.now()).total_seconds())
    return max(0, int(max(waits, default=0)) + (1 if waits else 0))


def login_failure_record(*, username: str, ip: str) -> None:
    LoginFailure.objects.create(username=username.lower()[:150], ip=ip[:45], failed_at=timezone.now())


def login_failures_clear(*, username: str) -> None:
    LoginFailure.objects.filter(username=username.lower()).delete()

