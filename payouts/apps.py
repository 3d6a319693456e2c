from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Payouts"

    def ready(self):
        from wallets.events import register_event_types

        register_event_types("webuddy", "payout.processing", "payout.paid", "payout.failed", "payout.reversed")
        from payouts import notifications  # noqa: F401  (registers the handlers of the providers' payout notifications)
        from payouts.api import webuddy  # noqa: F401  (registers how events render a payout)
