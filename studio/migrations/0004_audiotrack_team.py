"""Audio tracks belong to a team directly (a project becomes optional in 0005): the column is
added and filled from each track's project here, made required there (two migrations, so
PostgreSQL never alters a table with pending constraint checks in one transaction)."""

import django.db.models.deletion
from django.db import migrations, models


def fill_team(apps, schema_editor):
    AudioTrack = apps.get_model("studio", "AudioTrack")
    Project = apps.get_model("studio", "Project")
    for project_id, team_id in Project.objects.values_list("pk", "team_id"):
        AudioTrack.objects.filter(project_id=project_id).update(team_id=team_id)


class Migration(migrations.Migration):
    dependencies = [
        ("studio", "0003_audit_labels_and_user_profile"),
    ]

    operations = [
        migrations.AddField(
            model_name="audiotrack",
            name="team",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="audio_tracks",
                to="studio.team",
            ),
        ),
        migrations.RunPython(fill_team, migrations.RunPython.noop),
    ]
