from django.db import migrations, models
from django.utils import timezone


def mark_sent(apps, schema_editor):
    """Tasks queued or running before the fair-share scheduler already have their RQ job."""
    RenderTask = apps.get_model("rendering", "RenderTask")
    RenderTask.objects.filter(status__in=["queued", "running"]).update(dispatched_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("rendering", "0002_batch_output_template"),
    ]

    operations = [
        migrations.AddField(
            model_name="rendertask",
            name="dispatched_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="rendertask",
            index=models.Index(fields=["status", "dispatched_at"], name="task_backlog_idx"),
        ),
        migrations.RunPython(mark_sent, migrations.RunPython.noop),
    ]
