"""Batch.key_root: the start all of a batch's keys share, for narrowed tokens' scopes.

Existing rows: a prefix batch's root is its prefix; a key list's is the common start of its
smallest and largest key (byte order, collation "C"), from its links, or its chunks when it
has none yet. A batch with neither keeps '' (seen only by tokens that are not narrowed).
"""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.db.models import F, Max, Min
from django.db.models.functions import Collate


def common_start(keys: list[str]) -> str:
    low, high = min(keys), max(keys)
    size = 0
    while size < len(low) and low[size] == high[size]:
        size += 1
    return low[:size]


def fill_key_roots(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Batch = apps.get_model("tasks", "Batch")
    ShareLink = apps.get_model("tasks", "ShareLink")
    BatchChunk = apps.get_model("tasks", "BatchChunk")
    Batch.objects.filter(source="prefix").update(key_root=F("prefix"))
    postgres = schema_editor.connection.vendor == "postgresql"  # SQLite compares bytes anyway
    key = Collate("key", "C") if postgres else F("key")
    for batch_id in Batch.objects.filter(source="keys").values_list("id", flat=True).iterator():
        ends = ShareLink.objects.filter(batch_id=batch_id).aggregate(low=Min(key), high=Max(key))
        keys = [ends["low"], ends["high"]] if ends["low"] is not None else []
        if not keys:
            chunks = BatchChunk.objects.filter(batch_id=batch_id).values_list("keys", flat=True)
            keys = [key for chunk in chunks for key in chunk]
        if keys:
            Batch.objects.filter(id=batch_id).update(key_root=common_start(keys))


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0006_revocations"),
    ]

    operations = [
        migrations.AddField(
            model_name="batch",
            name="key_root",
            field=models.CharField(
                blank=True,
                default="",
                help_text="The start every key of the batch shares (its prefix, or the key "
                "list's common start): a token narrowed to some prefixes sees the batch when "
                "it lies inside.",
                max_length=1024,
            ),
        ),
        migrations.RunPython(fill_key_roots, migrations.RunPython.noop, elidable=True),
    ]
