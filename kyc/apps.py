from django.apps import AppConfig


class KycConfig(AppConfig):
    name = "kyc"
    verbose_name = "KYC"

    def ready(self):
        from wallets.events import register_event_types

        register_event_types("tmr", "kyc.submitted", "kyc.verified", "kyc.rejected")
        from kyc.api import tmr  # noqa: F401  (registers how events render a KYC submission)
