"""Recipient.url_query: a webhook URL's secret query, encrypted at rest.

Existing webhook URLs whose query carries a secret (?sig=, ?token=, ...) are split: the query
moves, encrypted, to url_query and url keeps the secret values as "…". This needs
FIELD_ENCRYPTION_KEYS when there are such rows. A row whose hidden form is already another
recipient's address is left as it was (and logged).
"""

import logging

from django.db import IntegrityError, migrations, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

import common.fields
from notifications.urlsecrets import split_secret_query

log = logging.getLogger(__name__)


def hide_secret_queries(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Recipient = apps.get_model("notifications", "Recipient")
    rows = Recipient.objects.filter(kind="webhook", url__contains="?")
    for recipient in rows.iterator():
        shown, query = split_secret_query(recipient.url)
        if not query:
            continue
        try:
            with transaction.atomic():
                Recipient.objects.filter(id=recipient.id).update(url=shown, url_query=query)
        except IntegrityError:
            log.error(
                "recipient %s: its URL with the secret hidden is taken; left as is", recipient.id
            )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0007_lane_lease_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="recipient",
            name="url_query",
            field=common.fields.EncryptedTextField(
                blank=True,
                default="",
                help_text="the URL's query as given, when it carries a secret (encrypted at "
                "rest); url then shows the secret values as '…' (notifications.urlsecrets)",
            ),
        ),
        migrations.RunPython(hide_secret_queries, migrations.RunPython.noop, elidable=True),
    ]
