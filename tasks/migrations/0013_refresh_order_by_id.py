"""Links due at the same instant are taken in id (issue) order: the due index holds it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0012_retention_outcome_moved"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="sharelink",
            name="links_due_for_refresh",
        ),
        migrations.AddIndex(
            model_name="sharelink",
            index=models.Index(
                condition=models.Q(("refresh_at__isnull", False), ("status", "active")),
                fields=["refresh_at", "id"],
                name="links_due_for_refresh",
            ),
        ),
    ]
