"""The KYC queue: pending first, approve / reject as actions and as buttons, the TMR API sees the
verdict at once, and every verdict is logged with who and why."""
import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from kyc.models import KycSubmission
from kyc.services import kyc_reject
from tests.admin.builders import kyc_applicant

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:kyc_kycsubmission_changelist"


def tmr_status(submission) -> str:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(submission.user)}")
    response = client.get("/api/v1/wallet/kyc")
    assert response.status_code == 200, response.content
    return response.json()["status"]


def action(client, name, submissions, reason=None):
    body = {"action": name, "_selected_action": [s.pk for s in submissions]}
    if reason is not None:
        body.update(confirm="yes", reason=reason)
    return client.post(reverse(CHANGELIST), body)


def test_pending_submissions_come_first(finance_client, finance_user):
    older = kyc_applicant(name="Old Pending", number="310101199001010001")
    rejected = kyc_applicant(name="Was Rejected", number="310101199001010002")
    kyc_reject(submission_id=rejected.pk, staff=finance_user, reason="blurry")
    newer = kyc_applicant(name="New Pending", number="310101199001010003")

    listed = list(finance_client.get(reverse(CHANGELIST)).context["cl"].result_list)

    assert [s.pk for s in listed] == [newer.pk, older.pk, rejected.pk]


def test_filter_by_status_and_search_by_name(finance_client, finance_user):
    kyc_applicant(name="Ana Souza", number="310101199001010004")
    other = kyc_applicant(name="Bo Chen", number="310101199001010005")
    kyc_reject(submission_id=other.pk, staff=finance_user, reason="expired id")

    pending = finance_client.get(reverse(CHANGELIST), {"status__exact": "pending"}).context["cl"].result_list
    found = finance_client.get(reverse(CHANGELIST), {"q": "souza"}).context["cl"].result_list

    assert [s.full_name for s in pending] == ["Ana Souza"]
    assert [s.full_name for s in found] == ["Ana Souza"]


def test_approve_action_asks_first_then_verifies_and_the_tmr_api_says_verified(finance_client, finance_user):
    submission = kyc_applicant()

    asked = action(finance_client, "approve_submissions", [submission])
    assert asked.status_code == 200 and b"Approve selected submissions" in asked.content
    assert tmr_status(submission) == "pending"

    done = action(finance_client, "approve_submissions", [submission], reason="")

    assert done.status_code == 302
    submission.refresh_from_db()
    assert (submission.status, submission.reviewed_by) == ("verified", finance_user)
    assert tmr_status(submission) == "verified"
    log = LogEntry.objects.get(object_id=str(submission.pk))
    assert (log.user, log.change_message) == (finance_user, "Approved.")


def test_reject_needs_a_reason_and_records_it(finance_client, finance_user):
    submission = kyc_applicant()

    refused = action(finance_client, "reject_submissions", [submission], reason="  ")
    assert refused.status_code == 200 and b"This field is required" in refused.content
    submission.refresh_from_db()
    assert submission.status == "pending"

    action(finance_client, "reject_submissions", [submission], reason="Photo is unreadable")

    submission.refresh_from_db()
    assert (submission.status, submission.rejection_reason) == ("rejected", "Photo is unreadable")
    assert tmr_status(submission) == "rejected"
    log = LogEntry.objects.get(object_id=str(submission.pk))
    assert log.user == finance_user and log.change_message == "Rejected. Reason: Photo is unreadable"


def test_detail_page_buttons_approve_and_reject(finance_client, finance_user):
    first, second = kyc_applicant(name="Kim A", number="310101199001010006"), kyc_applicant(name="Kim B", number="310101199001010007")
    page = finance_client.get(reverse("admin:kyc_kycsubmission_change", args=[first.pk])).content.decode()
    assert reverse("admin:kyc_kycsubmission_approve", args=[first.pk]) in page
    assert reverse("admin:kyc_kycsubmission_reject", args=[first.pk]) in page

    approved = finance_client.post(reverse("admin:kyc_kycsubmission_approve", args=[first.pk]), {"reason": ""})
    no_reason = finance_client.post(reverse("admin:kyc_kycsubmission_reject", args=[second.pk]), {"reason": ""})
    rejected = finance_client.post(reverse("admin:kyc_kycsubmission_reject", args=[second.pk]), {"reason": "Name does not match"})

    assert (approved.status_code, no_reason.status_code, rejected.status_code) == (302, 200, 302)
    assert KycSubmission.objects.get(pk=first.pk).status == "verified"
    assert KycSubmission.objects.get(pk=second.pk).rejection_reason == "Name does not match"
    assert LogEntry.objects.filter(user=finance_user).count() == 2


def test_a_decided_submission_is_not_decided_again(finance_client):
    submission = kyc_applicant()
    action(finance_client, "approve_submissions", [submission], reason="")

    again = finance_client.post(reverse("admin:kyc_kycsubmission_reject", args=[submission.pk]), {"reason": "oops"}, follow=True)

    assert "already verified" in again.content.decode()
    submission.refresh_from_db()
    assert submission.status == "verified"
    assert LogEntry.objects.filter(object_id=str(submission.pk)).count() == 1
