"""RetentionOutcome moves here from the tasks app; its table (tasks_retentionoutcome) stays."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("tasks", "0011_retention_outcome"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RetentionOutcome",
                    fields=[
                        (
                            "name",
                            models.CharField(max_length=40, primary_key=True, serialize=False),
                        ),
                        ("completed_at", models.DateTimeField(blank=True, null=True)),
                        ("failed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "last_failures",
                            models.IntegerField(
                                default=0, help_text="Work left undone by the last run."
                            ),
                        ),
                        (
                            "failures",
                            models.BigIntegerField(
                                default=0, help_text="Work left undone by purge runs, ever."
                            ),
                        ),
                    ],
                    options={"db_table": "tasks_retentionoutcome"},
                ),
            ],
            database_operations=[],
        ),
    ]
