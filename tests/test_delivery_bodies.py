"""A message body is stored once, shared by its deliveries; ids and attempts stay per delivery."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from notifications.models import Delivery, MessageBody
from notifications.outbox import publish
from notifications.recipients import recipient_from_spec
from notifications.replay import replay
from tests.delivery_fixtures import wait_final


def items(count):
    return [
        {
            "id": n,
            "key": f"reports/{n:05d}.csv",
            "url": f"https://bucket.example/reports/{n:05d}.csv?X-Amz-Signature={'b' * 64}",
            "expires_at": "2026-12-01T10:00:00+00:00",
            "permalink": None,
            "filename": None,
        }
        for n in range(count)
    ]


def hooks(count):
    return [
        recipient_from_spec(None, {"webhook": f"https://hooks{n}.example.com/in"}).recipient
        for n in range(count)
    ]


@pytest.mark.django_db
def test_a_body_is_stored_once_per_part_whatever_the_number_of_endpoints(settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 16384
    endpoints = hooks(4)
    mail = recipient_from_spec(None, {"email": "a@example.com"}).recipient

    created = publish(
        "links.issued",
        subject="b1",
        recipients=[*endpoints, mail],
        items=items(300),
        manifest=lambda links: "https://manifest.example/m.csv",
    )

    parts = created[-1].parts
    assert parts > 1
    assert MessageBody.objects.count() == parts + 1  # one per webhook part, one for the emails
    for part in range(1, parts + 1):
        sharing = [d for d in created if d.part == part and d.recipient_id != mail.id]
        assert len(sharing) == len(endpoints)
        assert len({d.body_id for d in sharing}) == 1
    assert len({d.message_id for d in created}) == len(created)  # ids stay per delivery
    webhook_bodies = {d.body_id for d in created if d.recipient_id != mail.id}
    texts = MessageBody.objects.filter(id__in=webhook_bodies).values_list("text", flat=True)
    assert sum(len(json.loads(text)["data"]["links"]) for text in texts) == 300


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_shared_body_each_endpoint_signs_it_with_its_own_secret_and_id(celery_worker, endpoint):
    first, second = endpoint(), endpoint()

    created = publish(
        "links.issued",
        subject="shared",
        recipients=[first.recipient, second.recipient],
        items=items(3),
    )

    done = wait_final(created)
    assert {d.status for d in done} == {"delivered"}
    assert len({d.body_id for d in done}) == 1
    [one], [two] = first.receiver.requests, second.receiver.requests
    assert one.body == two.body
    assert one.headers["webhook-id"] != two.headers["webhook-id"]
    assert len(Webhook(first.secret).verify(one.body, one.headers)["data"]["links"]) == 3
    assert len(Webhook(second.secret).verify(two.body, two.headers)["data"]["links"]) == 3
    with pytest.raises(WebhookVerificationError):
        Webhook(first.secret).verify(two.body, two.headers)

    again = replay(done[0].id)  # the same id and bytes, its own attempts
    [done_again] = wait_final([again])
    resent = next(r for r in (first, second) if r.recipient.id == done_again.recipient_id)
    resent.receiver.wait_for(2)
    a, b = resent.receiver.requests
    assert (a.body, a.headers["webhook-id"]) == (b.body, b.headers["webhook-id"])
    assert [x.number for x in done_again.attempts.order_by("number")] == [1, 2]
    other = next(d for d in done if d.id != done_again.id)
    assert other.attempts.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_existing_payloads_into_shared_bodies():
    before = ("notifications", "0004_encrypt_secrets")
    after = ("notifications", "0005_message_body_once")
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([before])
    try:
        old = MigrationExecutor(connection).loader.project_state([before]).apps
        Recipient = old.get_model("notifications", "Recipient")
        OldDelivery = old.get_model("notifications", "Delivery")
        a = Recipient.objects.create(kind="webhook", url="https://a.example.com/in")
        b = Recipient.objects.create(kind="webhook", url="https://b.example.com/in")
        now = timezone.now()
        shared = json.dumps({"type": "links.issued", "data": {"part": 1}})
        other = json.dumps({"type": "links.issued", "data": {"part": 2}})
        rows = [
            (a, 1, shared),
            (b, 1, shared),
            (a, 2, other),
            (b, 2, other),
        ]
        ids = []
        for recipient, part, payload in rows:
            row = OldDelivery.objects.create(
                id=uuid.uuid4(),
                recipient=recipient,
                event_type="links.issued",
                subject="old",
                part=part,
                parts=2,
                payload=payload,
                created_at=now,
            )
            ids.append(row.id)

        MigrationExecutor(connection).migrate([after])

        new = MigrationExecutor(connection).loader.project_state([after]).apps
        NewDelivery = new.get_model("notifications", "Delivery")
        migrated = {d.id: d for d in NewDelivery.objects.select_related("body")}
        assert [migrated[i].body.text for i in ids] == [shared, shared, other, other]
        assert migrated[ids[0]].body_id == migrated[ids[1]].body_id
        assert migrated[ids[2]].body_id == migrated[ids[3]].body_id
        assert migrated[ids[0]].body_id != migrated[ids[2]].body_id
        assert new.get_model("notifications", "MessageBody").objects.count() == 2
    finally:
        MigrationExecutor(connection).migrate(leaves)
        Delivery.objects.all().delete()
        MessageBody.objects.all().delete()
