"""The team's audio library: every track has its team; a project is optional."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("studio", "0004_audiotrack_team"),
    ]

    operations = [
        migrations.AlterField(
            model_name="audiotrack",
            name="team",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="audio_tracks",
                to="studio.team",
            ),
        ),
        migrations.AlterField(
            model_name="audiotrack",
            name="project",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="audio_tracks",
                to="studio.project",
                verbose_name="project",
            ),
        ),
    ]
