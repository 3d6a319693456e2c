"""Masks of id numbers already stored, made again under the rule that at most half of a number's
characters show (`kyc.services.id_number_mask`)."""
from django.db import migrations


def remask(apps, schema_editor):
    from kyc.services import id_number_mask
    from wallets.crypto import decrypt

    KycSubmission = apps.get_model("kyc", "KycSubmission")
    for submission in KycSubmission.objects.only("id", "id_number_encrypted", "id_number_masked").iterator():
        masked = id_number_mask(decrypt(submission.id_number_encrypted))
        if masked != submission.id_number_masked:
            KycSubmission.objects.filter(pk=submission.pk).update(id_number_masked=masked)


class Migration(migrations.Migration):
    dependencies = [("kyc", "0002_review_permission")]

    operations = [migrations.RunPython(remask, migrations.RunPython.noop)]
