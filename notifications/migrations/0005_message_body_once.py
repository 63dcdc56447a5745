"""Each message body stored once (MessageBody), shared by the deliveries that send it.

Existing deliveries keep their bytes: equal payloads of one event part become one body.
"""

import hashlib

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

BATCH = 500


def bodies_from_payloads(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Delivery = apps.get_model("notifications", "Delivery")
    MessageBody = apps.get_model("notifications", "MessageBody")
    seen: dict[tuple[str, str, int, str], int] = {}
    pending: list[models.Model] = []
    rows = Delivery.objects.order_by("created_at", "id").only(
        "id", "event_type", "subject", "part", "payload", "created_at"
    )
    for delivery in rows.iterator(chunk_size=BATCH):
        digest = hashlib.sha256(delivery.payload.encode("utf-8")).hexdigest()
        key = (delivery.event_type, delivery.subject, delivery.part, digest)
        if key not in seen:
            body = MessageBody.objects.create(text=delivery.payload, created_at=delivery.created_at)
            seen[key] = body.pk
        delivery.body_id = seen[key]
        pending.append(delivery)
        if len(pending) >= BATCH:
            Delivery.objects.bulk_update(pending, ["body"])
            pending = []
    Delivery.objects.bulk_update(pending, ["body"])


def payloads_from_bodies(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Delivery = apps.get_model("notifications", "Delivery")
    pending: list[models.Model] = []
    for delivery in Delivery.objects.select_related("body").iterator(chunk_size=BATCH):
        delivery.payload = delivery.body.text
        pending.append(delivery)
        if len(pending) >= BATCH:
            Delivery.objects.bulk_update(pending, ["payload"])
            pending = []
    Delivery.objects.bulk_update(pending, ["payload"])


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_encrypt_secrets")]

    operations = [
        migrations.CreateModel(
            name="MessageBody",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "text",
                    models.TextField(help_text="the message as JSON text, exactly as sent"),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddField(
            model_name="delivery",
            name="body",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="deliveries",
                to="notifications.messagebody",
            ),
        ),
        migrations.RunPython(bodies_from_payloads, payloads_from_bodies, elidable=False),
        migrations.AlterField(
            model_name="delivery",
            name="payload",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RemoveField(model_name="delivery", name="payload"),
        migrations.AlterField(
            model_name="delivery",
            name="body",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="deliveries",
                to="notifications.messagebody",
            ),
        ),
    ]
