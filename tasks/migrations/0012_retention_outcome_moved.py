"""RetentionOutcome now belongs to the retention app (retention 0001); the table stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0011_retention_outcome"),
        ("retention", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="RetentionOutcome")],
            database_operations=[],
        ),
    ]
