from django.apps import AppConfig


class ExpertsConfig(AppConfig):
    name = "experts"
    verbose_name = "Experts"

    def ready(self):
        from wallets.events import register_event_types

        register_event_types("webuddy", "bank_detail.added")
        from experts.api import webuddy  # noqa: F401  (registers how events render a bank detail)
