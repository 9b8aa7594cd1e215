from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rendering", "0009_batch_output_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="rendertask",
            name="retry_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="rendertask",
            name="failure_fingerprint",
            field=models.CharField(blank=True, max_length=40),
        ),
    ]
