"""An unexpected error answers with the envelope and the request id, and nothing else: no stack
trace, no exception text, no setting, no secret. The trace goes to the log, under the same id."""
import logging

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]


def test_a_crash_shows_the_client_nothing_of_the_inside(settings, caplog):
    settings.DEBUG = False
    client = APIClient(raise_request_exception=False)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/v1/test/boom", HTTP_X_REQUEST_ID="crash-1")
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == "server_error"
    text = response.content.decode()
    for leak in ["Traceback", "RuntimeError", "unexpected", "views.py", django_settings.SECRET_KEY,
                 django_settings.FIELD_ENCRYPTION_KEY, "postgres://"]:
        assert leak not in text
    assert response["X-Request-Id"] == "crash-1"
    # The operator finds the trace in the log line of that request.
    [record] = [r for r in caplog.records if r.name == "django.request" and r.levelno == logging.ERROR]
    assert record.exc_info and "unexpected" in str(record.exc_info[1])


def test_an_unknown_host_or_a_bad_route_leaks_nothing(settings):
    settings.DEBUG = False
    for response in [APIClient().get("/healthz", HTTP_HOST="evil.example"), APIClient().get("/v1/../etc/passwd")]:
        assert response["Content-Type"].startswith("application/json")
        assert set(response.json()) == {"code", "message"}
        assert "Traceback" not in response.content.decode() and "DisallowedHost" not in response.content.decode()
