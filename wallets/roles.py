"""Staff roles. `Finance` runs the money from the back office with exactly these permissions;
superusers can do everything; any other staff user sees nothing money-related."""
from django.apps import apps as global_apps

FINANCE_GROUP = "Finance"

# (app label, codename). View permissions open the lists; the rest open one action each.
FINANCE_PERMISSIONS = frozenset(
    {
        ("wallets", "view_tenant"),
        ("wallets", "view_user"),
        ("wallets", "view_account"),
        ("wallets", "suspend_account"),
        ("wallets", "adjust_account"),
        ("wallets", "view_journaltransaction"),
        ("wallets", "view_entry"),
        ("wallets", "view_escrow"),
        ("wallets", "view_recharge"),
        ("wallets", "view_gatewayevent"),
        ("wallets", "view_reconcilerun"),
        ("wallets", "view_apikey"),
        ("wallets", "view_event"),
        ("wallets", "view_webhookendpoint"),
        ("wallets", "enable_webhookendpoint"),
        ("wallets", "view_delivery"),
        ("wallets", "view_deliveryattempt"),
        ("wallets", "resend_delivery"),
        ("wallets", "view_balancemonitor"),
        ("wallets", "add_apikey"),
        ("wallets", "change_apikey"),
        ("kyc", "view_kycsubmission"),
        ("kyc", "review_kycsubmission"),
        ("payouts", "view_payout"),
        ("payouts", "retry_payout"),
        ("payouts", "cancel_payout"),
        ("payouts", "run_monthly_payouts"),
        ("sessions_app", "view_consultationsession"),
        ("experts", "view_bankdetail"),
        ("experts", "view_expertprofile"),
    }
)


# The permissions that move money, or hand out what moves it (API keys): holding any of them (or being
# a superuser) needs a second factor in the back office (wallets.admin_site).
MONEY_PERMISSIONS = frozenset(
    {
        ("wallets", "suspend_account"),
        ("wallets", "adjust_account"),
        ("wallets", "add_apikey"),
        ("wallets", "change_apikey"),
        ("kyc", "review_kycsubmission"),
        ("payouts", "retry_payout"),
        ("payouts", "cancel_payout"),
        ("payouts", "run_monthly_payouts"),
    }
)


def finance_group_sync(apps=global_apps):
    """Create the `Finance` group (and any missing permission rows) and give it exactly
    FINANCE_PERMISSIONS. Idempotent; `apps` is a migration's historical registry or the live one."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # Permissions are normally created after all migrations; create them now so the group can have them.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    wanted = []
    for app_label, codename in sorted(FINANCE_PERMISSIONS):
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is None and apps is not global_apps:
            continue  # a model a later migration adds; that migration syncs the group again
        if permission is None:
            raise LookupError(f"permission {app_label}.{codename} does not exist")
        wanted.append(permission)
    group.permissions.set(wanted)
    return group
