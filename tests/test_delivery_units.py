"""Pure delivery logic: retry timing, failure kinds, body splitting, secrets, specs."""

from __future__ import annotations

import ipaddress
import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from common.clientaddr import parse_networks
from notifications.netguard import refusal
from notifications.payloads import email_payload, plan_parts, webhook_link, webhook_parts
from notifications.policy import (
    delivery_retry_delay,
    is_transient_http,
    is_transient_smtp,
    parse_retry_after,
    truncate,
)
from notifications.recipients import RecipientError, parse_cli_spec
from notifications.transports.webhook import signed_headers
from notifications.webhook_secrets import SecretFormatError, check_secret, generate_secret

SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


def test_retry_delays_follow_the_schedule_then_stop():
    delays = [delivery_retry_delay(n, SCHEDULE) for n in range(1, 10)]
    assert delays == [0, 5, 300, 1800, 7200, 18000, 36000, 36000, None]


def test_jitter_only_lengthens_and_stays_within_its_share():
    rng = random.Random(7)  # noqa: S311 - jitter, not secrets
    values = [delivery_retry_delay(3, SCHEDULE, jitter_percent=20, rng=rng) for _ in range(200)]
    assert all(300 <= v <= 360 for v in values)
    assert len(set(values)) > 100


def test_retry_after_is_honoured_but_capped():
    assert delivery_retry_delay(1, SCHEDULE, retry_after=120) == 120
    assert delivery_retry_delay(3, SCHEDULE, retry_after=10) == 300  # never sooner than planned
    assert delivery_retry_delay(1, SCHEDULE, retry_after=10**9, max_retry_after=3600) == 3600
    assert delivery_retry_delay(9, SCHEDULE, retry_after=5) is None


def test_retry_after_header_forms():
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Sat, 28 Nov 2026 12:01:00 GMT", now) == 60
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "transient"),
    [(500, True), (503, True), (408, True), (429, True), (400, False), (404, False), (410, False)],
)
def test_http_failures_are_sorted(status, transient):
    assert is_transient_http(status) is transient


def test_smtp_4xx_is_transient_and_5xx_is_not():
    assert is_transient_smtp(451) and is_transient_smtp(421)
    assert not is_transient_smtp(550) and not is_transient_smtp(554)


def test_truncate_says_how_much_was_cut():
    assert truncate("abc", 5) == "abc"
    assert truncate("a" * 10, 4) == "aaaa… [6 more characters]"


@given(st.lists(st.integers(min_value=1, max_value=400), max_size=300), st.integers(0, 200))
def test_parts_fit_the_limit_and_keep_every_link_in_order(sizes, overhead):
    limit = 1000
    if any(overhead + size > limit for size in sizes):
        return
    ranges = plan_parts(sizes, limit, overhead)
    assert [i for start, end in ranges for i in range(start, end)] == list(range(len(sizes)))
    for start, end in ranges:
        body = overhead + sum(sizes[start:end]) + max(0, end - start - 1)
        assert body <= limit
    # greedy: adding the next link to a part would overflow it
    for (start, end), _next in itertools.pairwise(ranges):
        assert overhead + sum(sizes[start : end + 1]) + (end - start) > limit


def test_webhook_bodies_are_exact_json_within_the_limit():
    items = [
        {
            "id": n,
            "key": f"k/é{n}",
            "url": f"https://x/{n}?X-Amz-Signature=ab",
            "expires_at": "t",
            "permalink": None,
            "filename": "f",
        }
        for n in range(500)
    ]
    stamp = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    count, parts = webhook_parts("links.issued", "batch-1", stamp, items, 8192)
    bodies = [p.body for p in parts]
    assert len(bodies) == count > 1
    assert all(len(b.encode()) <= 8192 for b in bodies)
    decoded = [json.loads(b) for b in bodies]
    assert decoded[0]["type"] == "links.issued"
    assert decoded[0]["timestamp"] == "2026-11-28T12:00:00Z"
    assert [d["data"]["part"] for d in decoded] == list(range(1, count + 1))
    links = [link for d in decoded for link in d["data"]["links"]]
    assert [link["key"] for link in links] == [i["key"] for i in items]
    assert links[0]["filename"] == "f"


def test_the_fast_link_encoder_matches_json_dumps():
    item = {
        "id": "7",
        "key": 'a"b\\c\u2028é',
        "url": "u",
        "expires_at": datetime(2026, 1, 1),
        "permalink": None,
        "filename": "é.pdf",
        "extra": 1,
    }
    fields = ("id", "key", "url", "expires_at", "permalink", "filename")
    expected = {k: item.get(k) for k in fields}
    assert json.loads(webhook_link(item)) == {**expected, "expires_at": "2026-01-01 00:00:00"}


def test_an_email_payload_past_the_limit_carries_only_the_manifest():
    items = [
        {"key": "a", "expires_at": "2026-12-02T00:00:00+00:00"},
        {"key": "b", "expires_at": "2026-12-01T00:00:00Z"},
    ]
    stamp = datetime(2026, 11, 28, tzinfo=UTC)
    data = json.loads(email_payload("links.issued", "b", stamp, items, "https://m"))["data"]
    assert data == {
        "batch": "b",
        "count": 2,
        "manifest_url": "https://m",
        "earliest_expires_at": "2026-12-01T00:00:00Z",
    }


@pytest.mark.parametrize(
    ("address", "allowed", "reason"),
    [
        ("8.8.8.8", [], None),
        ("2001:4860:4860::8888", [], None),
        ("127.0.0.1", [], "loopback"),
        ("10.0.0.1", [], "private"),
        ("172.16.5.4", [], "private"),
        ("169.254.169.254", [], "metadata"),
        ("169.254.1.1", [], "link-local"),
        ("fe80::1", [], "link-local"),
        ("224.0.0.1", [], "multicast"),
        ("0.0.0.0", [], "unspecified"),  # noqa: S104
        ("100.64.0.1", [], "not a public"),
        ("::ffff:10.0.0.1", [], "private"),
        ("127.0.0.1", ["127.0.0.0/8"], None),
        ("10.0.0.1", ["127.0.0.0/8"], "private"),
    ],
)
def test_address_policy(address, allowed, reason):
    result = refusal(ipaddress.ip_address(address), parse_networks(allowed))
    assert (result is None) if reason is None else (reason in result)


def test_generated_secrets_are_standard_webhooks_secrets():
    secret = generate_secret()
    assert secret.startswith("whsec_") and check_secret(secret) == secret
    assert generate_secret() != secret
    Webhook(secret)  # the package accepts it


@pytest.mark.parametrize(
    "bad", ["plain", "whsec_not base64!", "whsec_" + "QUJD", "whsec_" + "QQ==" * 40, 42]
)
def test_malformed_secrets_are_refused_without_echoing_them(bad):
    with pytest.raises(SecretFormatError) as caught:
        check_secret(bad)
    assert str(bad) not in str(caught.value) or bad == 42


def test_every_active_secret_signs_and_each_alone_verifies():
    old, new = generate_secret(), generate_secret()
    body = '{"type":"links.issued"}'
    now = datetime.now(UTC)
    headers = signed_headers("msg_1", now, body, [old, new], {"X-Extra": "1"})
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"type": "links.issued"}
    stale = {**headers, "webhook-timestamp": str(int((now - timedelta(hours=1)).timestamp()))}
    with pytest.raises(Exception, match=r"too old|No matching"):
        Webhook(old).verify(body, stale)


def test_cli_specs():
    assert parse_cli_spec("email:ana@example.com") == {"email": "ana@example.com"}
    assert parse_cli_spec("webhook:https://h.example/x?a=1") == {
        "webhook": "https://h.example/x?a=1"
    }
    for bad in ("ana@example.com", "sms:+331234", "webhook:", ""):
        with pytest.raises(RecipientError) as caught:
            parse_cli_spec(bad)
        assert caught.value.field == "to"


def test_retries_are_enqueued_one_task_per_second_of_delay_never_early():
    from types import SimpleNamespace

    from notifications.recorder import group_retries

    retries = [(SimpleNamespace(id=n), delay) for n, delay in enumerate([0.2, 0.9, 1.1, 5.0, 1.7])]
    groups = group_retries(retries)
    assert groups == [([0, 1], 0.9), ([2, 4], 1.7), ([3], 5.0)]
