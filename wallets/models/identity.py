"""Who: the tenants (the marketplaces), their users, API keys, and failed logins."""
import uuid
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q

from wallets.models.fields import MONEY, ExactJSONDecoder, ExactJSONEncoder


class Tenant(models.Model):
    """One marketplace whose money this service keeps (WeBuddy, TMR Land, ...). It owns its users, its
    API keys and its system accounts (revenue, clearing, adjustments); nothing crosses tenants.

    `dialect` is the API its keys speak; `currencies` the wallets its users may hold, the first being
    the default; `platform_fee_percent` its cut of sessions and escrow releases (empty: the
    deployment's PLATFORM_FEE_PERCENT)."""

    class Dialect(models.TextChoices):
        WEBUDDY = "webuddy", "WeBuddy (/v1)"
        TMR = "tmr", "TMR Land (/api/v1/wallet)"

    code = models.SlugField(max_length=32, primary_key=True)
    name = models.CharField(max_length=100)
    dialect = models.CharField(max_length=16, choices=Dialect.choices)
    currencies = models.JSONField(default=list, help_text='Currency codes, the default first: ["USD", "USDC"].')
    platform_fee_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        help_text="The platform's cut in percent; empty means the deployment's PLATFORM_FEE_PERCENT.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(platform_fee_percent__isnull=True)
                | Q(platform_fee_percent__gte=0, platform_fee_percent__lte=100),
                name="tenant_fee_percent_range",
            ),
        ]

    @property
    def default_currency(self) -> str:
        return self.currencies[0]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, username=None, password=None, **extra):
        user = self.model(username=username or None, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, username, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(username=username, password=password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Anyone who owns money here: a WeBuddy user or expert, a TMR Land user, or staff."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Every user who can own money belongs to one marketplace; staff belong to none and own no wallet.
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    username = models.CharField(max_length=150, unique=True, null=True, blank=True)
    phone_number = models.CharField(max_length=16, null=True, blank=True)
    name = models.CharField(max_length=200, blank=True, default="")
    max_credits = models.DecimalField(**MONEY, default=Decimal("0"))
    # A client's own document, kept exactly (`wallets.validation.json_document_check` decides what fits).
    settings = models.JSONField(default=dict, blank=True, encoder=ExactJSONEncoder, decoder=ExactJSONDecoder)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(max_credits__gte=0), name="user_max_credits_non_negative"),
            # A phone number names one user within a marketplace.
            models.UniqueConstraint(fields=["tenant", "phone_number"], name="user_phone_unique_per_tenant"),
            # Target of the wallets' (user, tenant) key on PostgreSQL: a wallet is in its owner's tenant.
            models.UniqueConstraint(fields=["id", "tenant"], name="user_id_tenant_unique"),
        ]

    def __str__(self) -> str:
        return self.name or self.username or self.phone_number or str(self.id)


class ApiKey(models.Model):
    """A partner or platform credential of one tenant, speaking its tenant's dialect (its scope).
    Only a SHA-256 of the secret is stored; the prefix finds it."""

    Scope = Tenant.Dialect

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API key"

    @property
    def scope(self) -> str:
        """The dialect this key may call: its tenant's."""
        return self.tenant.dialect

    def __str__(self) -> str:
        return f"{self.name} ({self.tenant_id}, {self.prefix}…)"


class LoginFailure(models.Model):
    """One failed login, counted per username and per client IP to throttle guessing."""

    id = models.BigAutoField(primary_key=True)
    username = models.CharField(max_length=150)
    ip = models.CharField(max_length=45)
    failed_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["username", "failed_at"], name="login_failure_user_idx"),
            models.Index(fields=["ip", "failed_at"], name="login_failure_ip_idx"),
        ]
