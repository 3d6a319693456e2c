from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Consultation sessions"

    def ready(self):
        from wallets.events import register_event_types

        register_event_types("webuddy", "session.started", "session.settled", "session.cancelled")
        from sessions_app.api import webuddy  # noqa: F401  (registers how events render a session)
