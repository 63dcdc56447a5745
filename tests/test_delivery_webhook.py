"""Webhooks end to end: publish → a real worker → loopback receivers that verify signatures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from demo.receiver import Reply
from notifications.models import Attempt, Delivery
from notifications.outbox import publish
from notifications.webhook_secrets import rotate_secret
from tests.delivery_fixtures import wait_final
from tests.helpers import download, query, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.s3, pytest.mark.django_db(transaction=True)]


def test_receiver_verifies_every_request_and_the_links_download(
    celery_worker, endpoint, make_links
):
    links = make_links(3)
    hook = endpoint()

    deliveries = publish(
        "links.issued", subject="batch-42", recipients=[hook.recipient], items=links.items
    )

    [delivery] = wait_final(deliveries)
    assert delivery.status == "delivered"
    [payload] = hook.verified()
    assert payload["type"] == "links.issued"
    assert payload["data"]["batch"] == "batch-42"
    assert (payload["data"]["part"], payload["data"]["parts"]) == (1, 1)
    assert [link["key"] for link in payload["data"]["links"]] == list(links.contents)
    for link in payload["data"]["links"]:
        assert set(link) == {"id", "key", "url", "expires_at", "permalink", "filename"}
        assert download(link["url"]).content == links.contents[link["key"]]
    request = hook.receiver.requests[0]
    assert request.headers["webhook-id"] == delivery.message_id
    assert request.headers["Content-Type"] == "application/json"


def test_a_wrong_secret_does_not_verify(celery_worker, endpoint, make_links):
    hook = endpoint()
    wait_final(publish("links.issued", subject="b", recipients=[hook.recipient], items=[]))
    other = Webhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ==")
    request = hook.receiver.requests[0]
    with pytest.raises(WebhookVerificationError):
        other.verify(request.body, request.headers)


def test_during_rotation_old_and_new_secrets_both_verify(celery_worker, endpoint, make_links):
    links = make_links(1)
    hook = endpoint()
    old = hook.secret
    new = rotate_secret(hook.recipient)

    wait_final(publish("links.issued", subject="b", recipients=[hook.recipient], items=links.items))

    request = hook.receiver.requests[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(request.body, request.headers)
    assert Webhook(new).verify(request.body, request.headers)


def test_after_the_grace_period_only_the_new_secret_signs(celery_worker, endpoint):
    hook = endpoint()
    new = rotate_secret(hook.recipient, grace=timedelta(0))

    wait_final(publish("links.issued", subject="b", recipients=[hook.recipient], items=[]))

    request = hook.receiver.requests[0]
    assert Webhook(new).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(hook.secret).verify(request.body, request.headers)


def test_500_twice_then_200_is_delivered_on_the_third_attempt_with_one_id(
    celery_worker, endpoint, make_links
):
    hook = endpoint(script=[Reply(500), Reply(500)], default=Reply(200))

    [delivery] = wait_final(
        publish("links.issued", subject="b", recipients=[hook.recipient], items=make_links(1).items)
    )

    assert delivery.status == "delivered"
    attempts = list(delivery.attempts.order_by("number"))
    assert [(a.number, a.status_code, a.outcome) for a in attempts] == [
        (1, 500, "transient"),
        (2, 500, "transient"),
        (3, 200, "delivered"),
    ]
    assert all(a.latency_ms is not None for a in attempts)
    ids = {r.headers["webhook-id"] for r in hook.receiver.requests}
    assert ids == {delivery.message_id}
    stamps = [r.headers["webhook-timestamp"] for r in hook.receiver.requests]
    assert len(stamps) == 3
    assert len(hook.verified()) == 3  # each try signed afresh


def test_a_receiver_slower_than_the_timeout_is_retried_until_it_recovers(celery_worker, endpoint):
    hook = endpoint(script=[Reply(200, delay=3.5)], default=Reply(200))  # WEBHOOK_TIMEOUT=2s

    [delivery] = wait_final(
        publish("links.issued", subject="b", recipients=[hook.recipient], items=[])
    )

    assert delivery.status == "delivered"
    first, second = delivery.attempts.order_by("number")
    assert first.outcome == "transient" and first.status_code is None
    assert "timed out" in first.error.lower() or "timeout" in first.error.lower()
    assert second.outcome == "delivered"


def test_400_fails_after_one_attempt(celery_worker, endpoint):
    hook = endpoint(default=Reply(400, body=b"bad payload"))

    [delivery] = wait_final(
        publish("links.issued", subject="b", recipients=[hook.recipient], items=[])
    )

    assert delivery.status == "failed"
    [only] = delivery.attempts.all()
    assert (only.status_code, only.outcome, only.response) == (400, "permanent", "bad payload")
    assert len(hook.receiver.requests) == 1
    delivery.recipient.refresh_from_db()
    assert delivery.recipient.disabled_at is None


def test_410_gone_disables_the_endpoint_and_fails_its_other_deliveries(celery_worker, endpoint):
    hook = endpoint(default=Reply(410))

    [delivery] = wait_final(
        publish("links.issued", subject="b", recipients=[hook.recipient], items=[])
    )

    assert delivery.status == "failed"
    hook.recipient.refresh_from_db()
    assert hook.recipient.disabled_at is not None
    assert "410" in hook.recipient.disabled_reason
    [later] = publish("links.refreshed", subject="b", recipients=[hook.recipient], items=[])
    assert later.status == "failed" and "disabled" in later.last_error
    assert len(hook.receiver.requests) == 1


def test_a_302_is_a_failure_and_the_redirect_is_not_followed(celery_worker, endpoint, receiver):
    target = receiver()
    hook = endpoint(default=Reply(302, headers={"Location": target.url}))

    [delivery] = wait_final(
        publish("links.issued", subject="b", recipients=[hook.recipient], items=[])
    )

    assert delivery.status == "failed"
    [only] = delivery.attempts.all()
    assert only.status_code == 302 and "not followed" in only.error
    assert target.requests == []


def test_429_honours_retry_after(celery_worker, endpoint):
    hook = endpoint(script=[Reply(429, headers={"Retry-After": "2"})], default=Reply(200))

    [delivery] = wait_final(
        publish("links.issued", subject="b", recipients=[hook.recipient], items=[])
    )

    first, second = hook.receiver.requests
    assert delivery.status == "delivered"
    assert second.at - first.at >= 1.9  # the schedule says ~0 s; the server said 2 s


def test_custom_headers_are_sent(celery_worker, endpoint):
    hook = endpoint(headers={"Authorization": "Bearer abc", "X-Tenant": "t1"})

    wait_final(publish("links.issued", subject="b", recipients=[hook.recipient], items=[]))

    request = hook.receiver.requests[0]
    assert request.headers["Authorization"] == "Bearer abc"
    assert request.headers["X-Tenant"] == "t1"


def test_a_large_batch_is_split_into_parts_under_the_body_limit(
    celery_worker, endpoint, make_links, settings
):
    settings.WEBHOOK_MAX_BODY_BYTES = 8192
    links = make_links(40)
    hook = endpoint()

    deliveries = publish(
        "links.issued", subject="big", recipients=[hook.recipient], items=links.items
    )

    rows = wait_final(deliveries)
    assert len(rows) > 1 and all(r.status == "delivered" for r in rows)
    assert all(len(r.body) <= 8192 for r in hook.receiver.requests)
    payloads = sorted(hook.verified(), key=lambda p: p["data"]["part"])
    assert [p["data"]["part"] for p in payloads] == list(range(1, len(rows) + 1))
    assert {p["data"]["parts"] for p in payloads} == {len(rows)}
    keys = [link["key"] for p in payloads for link in p["data"]["links"]]
    assert keys == list(links.contents)
    assert len({r.headers["webhook-id"] for r in hook.receiver.requests}) == len(rows)
    assert Attempt.objects.filter(delivery__in=rows).count() == len(rows)
    assert Delivery.objects.filter(subject="big").count() == len(rows)


def test_the_sweeper_does_not_resend_what_was_delivered(celery_worker, endpoint, settings):
    from notifications.sweeper import sweep

    hook = endpoint()
    wait_final(publish("links.issued", subject="b", recipients=[hook.recipient], items=[]))
    settings.DELIVERY_REQUEUE_AFTER = 0
    assert sweep().enqueued == 0
    wait_until(lambda: len(hook.receiver.requests) >= 1)
    assert len(hook.receiver.requests) == 1


def test_worker_logs_and_attempts_never_hold_a_link_signature_or_the_secret(
    celery_worker, endpoint, make_links
):
    links = make_links(1)
    url = links.items[0]["url"]
    hook = endpoint()
    echo = f"got {url} signed with {hook.secret}".encode()  # a receiver that echoes too much
    hook.receiver.script = [Reply(500, body=echo), Reply(302, headers={"Location": url})]

    [delivery] = wait_final(
        publish("links.issued", subject="b", recipients=[hook.recipient], items=links.items)
    )

    signature = query(url)["X-Amz-Signature"]
    stored = " ".join(f"{a.response} {a.error}" for a in delivery.attempts.all())
    stored += delivery.last_error
    for text in (stored, celery_worker.log()):
        assert signature not in text
        assert hook.secret.removeprefix("whsec_") not in text
    assert f"X-Amz-Signature={signature[:6]}…" in stored
