"""ASGI entry point. Refuses to serve with settings that fail the service's own system checks (live
payments without their keys), as `config.wsgi` does."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()

from config.wsgi import refuse_bad_settings  # noqa: E402  (after Django is set up)

refuse_bad_settings()
