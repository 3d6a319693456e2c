"""Django's admin app, with the back office's site (second factor, throttled sign-in) as `admin.site`."""
from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminConfig(AdminConfig):
    default_site = "wallets.admin_site.BackOfficeSite"
