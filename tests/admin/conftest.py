"""Staff users for the back-office tests: a Finance member, a plain staff user, a superuser."""
import itertools

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from tests.invariants import assert_ledger_invariants
from wallets.models import User
from wallets.roles import FINANCE_GROUP

_n = itertools.count(1)
PASSWORD = "back-office-Pa55word!"


@pytest.fixture(autouse=True)
def _ledger_stays_whole():
    """Whatever staff did, the ledger is whole afterwards (every test here uses the database)."""
    yield
    assert_ledger_invariants()


def make_staff(*, finance: bool = False, superuser: bool = False) -> User:
    n = next(_n)
    if superuser:
        return User.objects.create_superuser(username=f"root{n}", password=PASSWORD, name=f"Root {n}")
    user = User.objects.create_user(username=f"staff{n}", password=PASSWORD, name=f"Staff {n}", is_staff=True)
    if finance:
        user.groups.add(Group.objects.get(name=FINANCE_GROUP))
    return user


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def finance_user(db):
    return make_staff(finance=True)


@pytest.fixture
def finance_client(finance_user):
    return logged_in(finance_user)


@pytest.fixture
def staff_client(db):
    return logged_in(make_staff())


@pytest.fixture
def superuser_client(db):
    return logged_in(make_staff(superuser=True))
