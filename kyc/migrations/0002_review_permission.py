"""Custom permission for the back office: approve or reject KYC submissions."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('kyc', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='kycsubmission',
            options={'ordering': ['-submitted_at'], 'permissions': [('review_kycsubmission', 'Can approve or reject KYC submissions')], 'verbose_name': 'KYC submission'},
        ),
    ]
