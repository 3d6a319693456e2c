import pytest
from rest_framework.test import APIClient

from tests.factories import make_api_key


@pytest.fixture(params=["function", "python"])
def ledger_engine(request, settings):
    """Run a test once per posting engine: the PL/pgSQL function and the portable Python engine."""
    settings.LEDGER_ENGINE = request.param
    return request.param


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def webuddy_client(db):
    _, raw = make_api_key("webuddy")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def tmr_key_client(db):
    _, raw = make_api_key("tmr")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client
