"""WSGI entry point (gunicorn config.wsgi). Refuses to serve with settings that fail the service's
own system checks (live payments without their keys), as `manage.py runserver` does."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def refuse_bad_settings() -> None:
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    errors = [e for e in checks.run_checks(tags=["payments"]) if e.is_serious()]
    if errors:
        raise ImproperlyConfigured("; ".join(e.msg for e in errors))


refuse_bad_settings()
