"""Recipients subscribe to some event types (empty: all of them)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_outbox"),
    ]

    operations = [
        migrations.AddField(
            model_name="recipient",
            name="event_types",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="the event types it receives (catalog.SUBSCRIBABLE); empty: all",
            ),
        ),
    ]
