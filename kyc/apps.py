from django.apps import AppConfig


class KycConfig(AppConfig):
    name = "kyc"
    verbose_name = "KYC"

    def ready(self):
        from kyc.api import tmr  # noqa: F401  (registers how events render a KYC submission)
