"""The KYC queue: pending first; approve or reject (with a reason) as list actions and as buttons on
a submission's page. The id number is shown masked only; its ciphertext never reaches a screen."""
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from kyc.models import KycSubmission
from kyc.services import kyc_approve, kyc_reject
from wallets.backoffice import Figure, ReasonForm, audit, dashboard_figure, reasoned_action, require_perm
from wallets.errors import DomainError


def _approve(request, submission, reason):
    return kyc_approve(submission_id=submission.pk, staff=request.user)


def _reject(request, submission, reason):
    return kyc_reject(submission_id=submission.pk, staff=request.user, reason=reason)


dashboard_figure(Figure(
    key="pending-kyc", label="KYC pending review", permission="kyc.view_kycsubmission", order=10,
    compute=lambda tenant: KycSubmission.objects.filter(status=KycSubmission.Status.PENDING, user__tenant=tenant).count(),
    link=lambda tenant: f"{reverse('admin:kyc_kycsubmission_changelist')}?status__exact=pending&user__tenant__code__exact={tenant.code}",
))


@admin.register(KycSubmission)
class KycSubmissionAdmin(admin.ModelAdmin):
    list_display = ("full_name", "tenant", "user", "id_type", "id_number", "status", "submitted_at", "reviewed_by")
    list_filter = ("user__tenant", "status", "id_type", "submitted_at")
    search_fields = ("full_name", "user__username", "user__name")
    list_select_related = ("user", "reviewed_by")
    fields = (
        "user", "full_name", "id_type", "id_number", "status", "rejection_reason",
        "submitted_at", "reviewed_by", "reviewed_at", "verified_at",
    )
    readonly_fields = fields
    actions = ("approve_submissions", "reject_submissions")
    change_form_template = "admin/kyc/kycsubmission/change_form.html"

    approve_submissions = reasoned_action(
        description="Approve selected submissions", permission="review", apply=_approve, done="Approved",
        reason_required=False,
    )
    reject_submissions = reasoned_action(
        description="Reject selected submissions", permission="review", apply=_reject, done="Rejected",
    )

    @admin.display(description="tenant", ordering="user__tenant")
    def tenant(self, submission):
        return submission.user.tenant_id

    @admin.display(description="id number (masked)")
    def id_number(self, submission):
        return submission.id_number_masked

    def get_ordering(self, request):
        pending_first = Case(When(status=KycSubmission.Status.PENDING, then=Value(0)), default=Value(1),
                             output_field=IntegerField())
        return [pending_first.asc(), "-submitted_at"]

    def has_add_permission(self, request):
        return False  # users submit through the TMR API

    def has_change_permission(self, request, obj=None):
        return False  # decided only through approve / reject

    def has_delete_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        return request.user.has_perm("kyc.review_kycsubmission")

    def get_urls(self):
        return [
            path("<path:object_id>/approve/", self.admin_site.admin_view(self.approve_view), name="kyc_kycsubmission_approve"),
            path("<path:object_id>/reject/", self.admin_site.admin_view(self.reject_view), name="kyc_kycsubmission_reject"),
            *super().get_urls(),
        ]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_review": self.has_review_permission(request)}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def approve_view(self, request, object_id):
        return self._review_view(request, object_id, verdict="approve")

    def reject_view(self, request, object_id):
        return self._review_view(request, object_id, verdict="reject")

    def _review_view(self, request, object_id, *, verdict: str):
        require_perm(request, "kyc.review_kycsubmission")
        submission = get_object_or_404(KycSubmission.objects.select_related("user"), pk=object_id)
        form = ReasonForm(request.POST or None, required=verdict == "reject")
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"].strip()
            try:
                with transaction.atomic():
                    if verdict == "approve":
                        done = kyc_approve(submission_id=submission.pk, staff=request.user)
                    else:
                        done = kyc_reject(submission_id=submission.pk, staff=request.user, reason=reason)
                    audit(request, done, what=f"{'Approved' if verdict == 'approve' else 'Rejected'} KYC.", why=reason)
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"KYC of {submission.full_name}: {done.status}.", messages.SUCCESS)
            return redirect("admin:kyc_kycsubmission_change", submission.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{'Approve' if verdict == 'approve' else 'Reject'} KYC of {submission.full_name}",
            "opts": self.model._meta,
            "original": submission,
            "form": form,
            "verdict": verdict,
        }
        return TemplateResponse(request, "admin/kyc/kycsubmission/review.html", context)
