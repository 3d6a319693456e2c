from django.apps import AppConfig


class ExpertsConfig(AppConfig):
    name = "experts"
    verbose_name = "Experts"

    def ready(self):
        from experts.api import webuddy  # noqa: F401  (registers how events render a bank detail)
