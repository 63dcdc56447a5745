"""Email end to end: publish → a real worker → a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid

import pytest

from media.signing import sign
from notifications.outbox import publish
from notifications.recipients import recipient_from_spec
from tests.delivery_fixtures import wait_final
from tests.helpers import download, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.s3, pytest.mark.django_db(transaction=True)]

URL = re.compile(r"https?://\S+")


def people(*addresses, **spec):
    return [recipient_from_spec(None, {"email": a, **spec}).recipient for a in addresses]


def parts(message):
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_one_message_per_recipient_with_both_parts_on_one_connection(
    celery_worker, smtp_server, make_links
):
    links = make_links(3)
    recipients = people("ana@example.com", "bo@example.com", "cy@example.com")

    rows = wait_final(
        publish("links.issued", subject="batch-7", recipients=recipients, items=links.items)
    )

    assert {r.status for r in rows} == {"delivered"}
    messages = smtp_server.wait_for(3)
    assert sorted(to for _, [to] in smtp_server.envelopes) == [
        "ana@example.com",
        "bo@example.com",
        "cy@example.com",
    ]
    assert smtp_server.connections == 1  # one SMTP connection for the dispatch run
    for message in messages:
        text, page = parts(message)
        assert "batch-7" in message["Subject"]
        text_urls = [u for u in URL.findall(text) if "links.example" not in u]
        assert text_urls == [item["url"] for item in links.items]
        for item in links.items:
            assert item["filename"] in text and item["filename"] in page
            assert html.escape(item["url"]) in page
        for url in text_urls:
            assert download(url).content in links.contents.values()
    assert {r.attempts.get().status_code for r in rows} == {250}


def test_expiry_is_shown_in_the_recipients_timezone(celery_worker, smtp_server, make_links):
    links = make_links(1)
    [paris] = people("paris@example.com", timezone="Europe/Paris")
    [utc] = people("utc@example.com")

    wait_final(publish("links.issued", subject="b", recipients=[paris, utc], items=links.items))

    messages = {m["To"]: parts(m)[0] for m in smtp_server.wait_for(2)}
    assert re.search(r"expires \d{4}-\d\d-\d\d \d\d:\d\d CES?T", messages["paris@example.com"])
    assert re.search(r"expires \d{4}-\d\d-\d\d \d\d:\d\d UTC", messages["utc@example.com"])


def test_a_message_waits_for_the_smtp_server_to_come_up(celery_worker, smtp_server, make_links):
    links = make_links(1)
    [person] = people("late@example.com")
    smtp_server.stop()
    try:
        [delivery] = publish("links.issued", subject="b", recipients=[person], items=links.items)
        wait_until(lambda: delivery.attempts.filter(outcome="transient").exists(), what="a try")
    finally:
        smtp_server.start()

    [delivery] = wait_final([delivery])
    assert delivery.status == "delivered"
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "late@example.com"
    failed = delivery.attempts.filter(outcome="transient").first()
    assert failed.status_code is None and "connection" in failed.error.lower()


def test_an_smtp_4xx_is_retried_and_a_5xx_is_final(celery_worker, smtp_server):
    [person] = people("busy@example.com")
    smtp_server.reply = "451 4.3.0 try again later"
    try:
        [delivery] = publish("links.issued", subject="b", recipients=[person], items=[])
        wait_until(lambda: delivery.attempts.exists(), what="a first try")
    finally:
        smtp_server.reply = "250 OK"
    [delivery] = wait_final([delivery])
    assert delivery.status == "delivered"
    assert [a.status_code for a in delivery.attempts.order_by("number")][:1] == [451]

    smtp_server.reply = "550 5.1.1 no such mailbox"
    try:
        [rejected] = wait_final(publish("links.issued", subject="b", recipients=[person], items=[]))
    finally:
        smtp_server.reply = "250 OK"
    assert rejected.status == "failed"
    [only] = rejected.attempts.all()
    assert (only.status_code, only.outcome) == (550, "permanent")


def upload_manifest(put_object):
    """What the batches app supplies: a CSV of the links in the private bucket, signed."""

    def manifest(items):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["key", "url", "expires_at"])
        for item in items:
            writer.writerow([item["key"], item["url"], item["expires_at"]])
        key = put_object(f"manifests/{uuid.uuid4().hex}.csv", buffer.getvalue().encode())
        return sign(key, 600, filename="links.csv").url

    return manifest


def test_past_the_link_limit_the_email_carries_a_manifest_link(
    celery_worker, smtp_server, make_links, put_object, settings
):
    settings.EMAIL_LINK_LIMIT = 3
    links = make_links(5)
    [person] = people("many@example.com")

    [delivery] = wait_final(
        publish(
            "links.issued",
            subject="b",
            recipients=[person],
            items=links.items,
            manifest=upload_manifest(put_object),
        )
    )

    assert delivery.status == "delivered"
    text, page = parts(smtp_server.wait_for(1)[0])
    [manifest_url] = URL.findall(text)
    assert all(item["url"] not in text for item in links.items)
    assert html.escape(manifest_url) in page
    rows = list(csv.DictReader(io.StringIO(download(manifest_url).text)))
    assert [row["key"] for row in rows] == list(links.contents)
    for row in rows:
        assert download(row["url"]).content == links.contents[row["key"]]
