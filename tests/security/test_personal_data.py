"""Bank account and KYC id numbers are nowhere in the database or the logs in clear, and the key
they are encrypted under can be rotated while the service runs."""
import io
import logging
import threading

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from experts.models import BankDetail
from experts.services import bank_detail_add
from kyc.models import KycSubmission
from tests.tmr.helpers import signed_in
from tests.webuddy.helpers import create_user
from tests.webuddy.test_bank_details import add as add_bank
from wallets.crypto import decrypt, keyed_hash
from wallets.logs import JsonLines, RequestIdFilter
from wallets.models import User, WebhookEndpoint

ACCOUNT = "987654321098"
ID_NUMBER = "310101199001015678"


def database_text() -> str:
    """Every row of every table of the database, as text."""
    out = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            out.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(out)


@pytest.mark.django_db
def test_numbers_are_not_in_clear_in_any_table_or_log_line(webuddy_client, settings):
    settings.ACCESS_LOG = True
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        expert = create_user(webuddy_client)
        added = add_bank(webuddy_client, expert["id"], number=ACCOUNT)
        again = add_bank(webuddy_client, expert["id"], number=ACCOUNT, HTTP_IDEMPOTENCY_KEY="x")
        bad = add_bank(webuddy_client, expert["id"], number=ACCOUNT + "x")
        client, _ = signed_in()
        kyc = client.post("/api/v1/wallet/kyc", {"full_name": "Li Na", "id_type": "national_id", "id_number": ID_NUMBER},
                          format="json", HTTP_IDEMPOTENCY_KEY="kyc-1")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert (added.status_code, again.status_code, bad.status_code, kyc.status_code) == (201, 409, 400, 201)
    # What the client is shown is masked.
    assert ACCOUNT not in added.content.decode() and ID_NUMBER not in kyc.content.decode()
    stored = database_text()
    assert ACCOUNT[-4:] in stored  # the masked last digits are kept: the dump did see the rows
    assert ACCOUNT not in stored and ACCOUNT + "x" not in stored
    assert ID_NUMBER not in stored
    logged = stream.getvalue()
    assert "/v1/experts/bank-details" in logged  # the requests were logged ...
    assert ACCOUNT not in logged and ID_NUMBER not in logged  # ... without the numbers


def keys(*names: str) -> str:
    return ",".join(names)


KEY_A, KEY_B, KEY_C = (Fernet.generate_key().decode() for _ in range(3))


def check_output(**options) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_key", stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db
def test_rotation_re_encrypts_everything_and_the_service_works_throughout(webuddy_client, settings):
    settings.FIELD_ENCRYPTION_KEY = keys(KEY_A)
    expert = create_user(webuddy_client)
    assert add_bank(webuddy_client, expert["id"], number=ACCOUNT).status_code == 201
    client, user = signed_in()
    assert client.post("/api/v1/wallet/kyc", {"full_name": "Li Na", "id_type": "national_id", "id_number": ID_NUMBER},
                       format="json").status_code == 201
    endpoint = webuddy_client.post("/v1/webhook-endpoints", {"url": "https://hooks.example.com/w"}, format="json",
                                   HTTP_IDEMPOTENCY_KEY="endpoint-1").json()
    # The secret is shown once; its idempotent replay is kept encrypted, not in clear.
    assert endpoint["secret"] not in database_text()
    old_hash = BankDetail.objects.get().account_number_hash

    # Step 2: the new key first on every process. Everything is still readable; a duplicate is still found.
    settings.FIELD_ENCRYPTION_KEY = keys(KEY_B, KEY_A)
    duplicate = add_bank(webuddy_client, expert["id"], number=ACCOUNT)
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "bank_account_exists")
    with pytest.raises(CommandError, match="4 value"):
        check_output(check=True)

    # Step 3: rotate (a batch of one row shows it works batch by batch).
    report = check_output(batch=1)
    assert "bank account numbers: 1 re-encrypted" in report and "KYC id numbers: 1 re-encrypted" in report
    assert "webhook signing secrets: 1 re-encrypted" in report and "stored responses with a secret: 1 re-encrypted" in report
    assert "Every value is under the current key." in check_output(check=True)
    assert "0 re-encrypted" in check_output()  # a second run has nothing to do

    # Step 5: the old key is gone; everything reads under the new one alone.
    settings.FIELD_ENCRYPTION_KEY = keys(KEY_B)
    bank = BankDetail.objects.get()
    assert decrypt(bank.account_number_encrypted) == ACCOUNT
    assert bank.account_number_hash == keyed_hash(ACCOUNT, purpose="bank-account") != old_hash
    assert decrypt(KycSubmission.objects.get(user_id=user["id"]).id_number_encrypted) == ID_NUMBER
    assert decrypt(WebhookEndpoint.objects.get(pk=endpoint["id"]).secret_encrypted) == endpoint["secret"]
    replay = webuddy_client.post("/v1/webhook-endpoints", {"url": "https://hooks.example.com/w"}, format="json",
                                 HTTP_IDEMPOTENCY_KEY="endpoint-1")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == endpoint
    duplicate = add_bank(webuddy_client, expert["id"], number=ACCOUNT)
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "bank_account_exists")


@pytest.mark.django_db
def test_a_missing_key_is_reported_not_ignored(webuddy_client, settings):
    settings.FIELD_ENCRYPTION_KEY = keys(KEY_A)
    expert = create_user(webuddy_client)
    assert add_bank(webuddy_client, expert["id"], number=ACCOUNT).status_code == 201
    settings.FIELD_ENCRYPTION_KEY = keys(KEY_C)  # KEY_A forgotten
    with pytest.raises(CommandError, match="none of the configured keys"):
        check_output()
    settings.FIELD_ENCRYPTION_KEY = keys(KEY_A)
    assert decrypt(BankDetail.objects.get().account_number_encrypted) == ACCOUNT  # nothing was damaged


def test_generate_prints_a_usable_key():
    key = check_output(generate=True).strip().splitlines()[-1]
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"


@pytest.mark.django_db(transaction=True)
def test_rotation_runs_beside_writers(webuddy_client, settings):
    """Experts add bank accounts while the rotation runs: nothing fails, nothing is left behind."""
    settings.FIELD_ENCRYPTION_KEY = keys(KEY_A)
    experts = [User.objects.get(pk=create_user(webuddy_client)["id"]) for _ in range(4)]
    for n in range(120):
        bank_detail_add(expert=experts[n % 4], bank_name="Bank", account_number=f"{100000000 + n}",
                        ifsc_code="HDFC0001234", account_holder_name="A")
    settings.FIELD_ENCRYPTION_KEY = keys(KEY_B, KEY_A)
    errors: list = []

    def write():
        try:
            for n in range(120, 180):
                bank_detail_add(expert=experts[n % 4], bank_name="Bank", account_number=f"{100000000 + n}",
                                ifsc_code="HDFC0001234", account_holder_name="A")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    check_output(batch=7)
    writer.join()
    assert errors == []
    assert "Every value is under the current key." in check_output(check=True)
    settings.FIELD_ENCRYPTION_KEY = keys(KEY_B)
    numbers = sorted(decrypt(b.account_number_encrypted) for b in BankDetail.objects.all())
    assert numbers == sorted(f"{100000000 + n}" for n in range(180))
