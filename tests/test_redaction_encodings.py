"""Redaction that survives encoding: pre-signed URLs nested in `?next=` (encoded once or
twice, JSON- or HTML-escaped), permalink paths (`/l/<token>`, `%2Fl%2F<token>`), webhook
secrets in any encoding (URL-encoded `whsec_`, the bare base64 body), webhook signatures, the
access key id of credentials, labelled secrets. Fed with realistic log lines, admin pages
rendered through the test client, and attempt rows recorded from real sends."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator
from urllib.parse import quote, unquote

import pytest
from django.utils import timezone
from django.utils.html import escape
from hypothesis import given, settings
from hypothesis import strategies as st

from common.redact import RedactSecretsFilter, redact, remember_secret
from demo.receiver import Reply
from notifications import dispatcher
from notifications.models import Attempt, Recipient
from notifications.outbox import publish
from notifications.webhook_secrets import add_secret, generate_secret

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SIGNATURE = "ab12cd" + "0123456789abcdef" * 3 + "fedcba9876543210"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEPT//////////wEaCXVzLWVhc3QtMSJGMEQCIF+abc/def=="
PERMALINK_TOKEN = "Lpu5Kd" + "Q2x9vT7mZ_aB-cD3eF4gH5iJ6kL"
WHSEC_BODY = "MfKQ9r8GKYqr+TwjUPD8ILPZ/Io2LaLaSw5kZq0P1nA="
WHSEC = f"whsec_{WHSEC_BODY}"
PRESIGNED = (
    "https://media.s3.amazonaws.com/reports/q1%20final.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential={ACCESS_KEY}%2F20240506%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20240506T070809Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
    f"&X-Amz-Security-Token={quote(SESSION_TOKEN, safe='')}&X-Amz-Signature={SIGNATURE}"
)
PERMALINK = f"https://links.example.com/l/{PERMALINK_TOKEN}"

ENCODED_TOKEN = "".join(f"%{ord(char):02X}" for char in PERMALINK_TOKEN)
URL_PASSWORD = "Zq7-pass-w0rd-Xy"
API_TOKEN = "ld_" + "Xk3vB9qL_mN2pR5sT8wY1zA4cD6eF7gH0jK-uV2iO3p"

# What must never survive, whatever the encoding (parts long enough to be unmistakable).
SECRET_PARTS = [
    URL_PASSWORD,
    API_TOKEN[5:],
    SIGNATURE[6:],
    ACCESS_KEY[4:],
    "IQoJb3JpZ2luX2VjEPT",
    "EaCXVzLWVhc3QtMSJGMEQCIF",
    PERMALINK_TOKEN[6:],
    "MfKQ9r8GKYqr",
    "TwjUPD8ILPZ",
    "Io2LaLaSw5kZq0P1nA",
]


def quoted(text: str, times: int) -> str:
    for _ in range(times):
        text = quote(text, safe="")
    return text


def leaks(text: str) -> list[str]:
    """Secret parts found in the text, in it as written or decoded up to three times."""
    seen = {text}
    for _ in range(3):
        text = unquote(text)
        seen.add(text)
    seen |= {form.replace("\\/", "/") for form in seen}
    return [part for part in SECRET_PARTS if any(part in form for form in seen)]


@pytest.fixture(autouse=True)
def known_secret() -> Iterator[None]:
    remember_secret(WHSEC)  # as the webhook transport does with the secrets it signs with
    yield


FORMS = {
    "presigned URL": PRESIGNED,
    "presigned URL in ?next=": f"/login/?next={quoted(PRESIGNED, 1)}",
    "presigned URL in ?next=, encoded twice": "/go?u="
    + quoted(f"/in?next={quoted(PRESIGNED, 1)}", 1),
    "presigned URL encoded three times": quoted(PRESIGNED, 3),
    "presigned URL, JSON-escaped": json.dumps({"url": PRESIGNED}).replace("/", "\\/"),
    "presigned URL, HTML-escaped": str(escape(PRESIGNED)),
    "permalink path": f"Not Found: /l/{PERMALINK_TOKEN}",
    "permalink in ?next=": f"/admin/login/?next=%2Fl%2F{PERMALINK_TOKEN}",
    "permalink in ?next=, encoded twice": f"/a?next=%252Fl%252F{PERMALINK_TOKEN}",
    "absolute permalink in ?next=": f"/x?next={quoted(PERMALINK, 1)}",
    "permalink, JSON-escaped": json.dumps(PERMALINK).replace("/", "\\/"),
    "whsec_": f"secret is {WHSEC}.",
    "whsec_ URL-encoded": f"hook?s={quoted(WHSEC, 1)}&x=1",
    "whsec_ URL-encoded twice": f"hook?s={quoted(WHSEC, 2)}&x=1",
    "whsec_ JSON-escaped": json.dumps({"s": WHSEC}).replace("/", "\\/"),
    "the secret's base64 body alone": f"key: {WHSEC_BODY}",
    "the base64 body, URL-safe": f"key {WHSEC_BODY.replace('+', '-').replace('/', '_')}",
    "the base64 body, URL-encoded": f"key={quoted(WHSEC_BODY, 1)}&x",
    "SigV4 Authorization header": (
        f"Authorization: AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20240506/us-east-1/s3/"
        f"aws4_request, SignedHeaders=host;x-amz-date, Signature={SIGNATURE}"
    ),
    "SigV2 query": f"?AWSAccessKeyId={ACCESS_KEY}&Expires=1700000000&Signature={SIGNATURE}",
    "a bare access key id": f"using credentials {ACCESS_KEY} from the environment",
    # the forms issue 20 found missing
    "signature after &#61;": f"X-Amz-Signature&#61;{SIGNATURE}&amp;x=1",
    "session token after &#61;": f"X-Amz-Security-Token&#61;{quote(SESSION_TOKEN, safe='')}&amp;",
    "whsec\\u005f, JSON-escaped underscore": json.dumps(WHSEC).replace("_", "\\u005f"),
    "the base64 body with \\/ escapes": json.dumps({"key": WHSEC_BODY}).replace("/", "\\/"),
    "permalink path, &#x2F;-escaped": f"href=&#x2F;l&#x2F;{PERMALINK_TOKEN}",
    "permalink token, some characters percent-encoded": f"/l/{PERMALINK_TOKEN[:3]}%"
    + f"{ord(PERMALINK_TOKEN[3]):02X}{PERMALINK_TOKEN[4:]}",
    "/%6C/<token>": f"GET /%6C/{PERMALINK_TOKEN} HTTP/1.1",
    "/l/ and the token percent-encoded": f"GET /l/{ENCODED_TOKEN} HTTP/1.1",
    "smtp://user:password@host": f"EMAIL_URL=smtp://mailer:{URL_PASSWORD}@smtp.example.com:587",
    "redis://:password@host": f"broker redis://:{URL_PASSWORD}@cache.internal:6379/0 down",
    "a bare API token": f"curl -H 'X-Api: {API_TOKEN}' https://links.example.com/api/",
}


@pytest.mark.parametrize("text", FORMS.values(), ids=FORMS.keys())
def test_no_secret_survives_any_encoding(text):
    assert leaks(text), "the example must hold a secret to begin with"
    assert leaks(redact(text)) == []


def test_what_is_kept_tells_links_apart():
    out = redact(f"{PRESIGNED} {PERMALINK}")
    assert f"X-Amz-Signature={SIGNATURE[:6]}…" in out
    assert "X-Amz-Credential=AKIA…%2F20240506%2Fus-east-1%2Fs3%2Faws4_request" in out
    assert "X-Amz-Security-Token=…&" in out
    assert f"/l/{PERMALINK_TOKEN[:6]}…" in out
    assert "reports/q1%20final.pdf" in out and "X-Amz-Expires=3600" in out


def test_the_nested_url_keeps_its_shape():
    out = redact(f"/login/?next={quoted(PRESIGNED, 1)}")
    assert f"X-Amz-Signature%3D{SIGNATURE[:6]}…" in out
    assert "X-Amz-Credential%3DAKIA…%252F20240506" in out


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
        "Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
        'headers {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}',
        "password=hunter2hunter2&user=x",
        '{"client_secret": "s3cr3t-value-here"}',
        "https://hooks.example.com/in?token=abcd1234secretvalue",
    ],
)
def test_labelled_secrets_keep_two_characters(text):
    out = redact(text)
    for secret in ("eyJhbGciOiJIUzI1NiJ9", "9944b09199c6", "dXNlcjpwYXNz", "hunter2hunter2"):
        assert secret not in out
    for secret in ("s3cr3t-value-here", "abcd1234secretvalue"):
        assert secret not in out
    assert "…" in out


def test_ordinary_text_is_left_alone():
    text = (
        "delivery 7 delivered to webhook #3 on attempt 2 (40 ms); batch 12: 3 keys under "
        "reports/finance/2026/ signed; https://hooks.example.com/in?event=links.issued"
    )
    assert redact(text) == text


@settings(max_examples=300, deadline=None)
@given(
    signature=st.text("0123456789abcdef", min_size=64, max_size=64),
    token=st.text(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", min_size=32, max_size=32
    ),
    times=st.integers(0, 3),
    wrapper=st.sampled_from(["{}", "?next={}", "<a href='{}'>", '{{"u": "{}"}}', "x {} y"]),
)
def test_generated_links_never_survive(signature, token, times, wrapper):
    url = PRESIGNED.replace(SIGNATURE, signature) + f" /l/{token}"
    out = redact(wrapper.format(quoted(url, times)))
    decoded = unquote(unquote(unquote(out)))
    assert signature[6:] not in decoded
    assert token[6:] not in decoded


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(min_size=24, max_size=64), times=st.integers(0, 2), prefixed=st.booleans())
def test_remembered_secrets_never_survive_in_any_encoding(raw, times, prefixed):
    import base64

    body = base64.b64encode(raw).decode()
    remember_secret(f"whsec_{body}")
    shown = quoted(f"whsec_{body}" if prefixed else body, times)
    out = unquote(unquote(redact(f"got {shown} back")))
    assert body.rstrip("=") not in out


# ---- realistic log lines ------------------------------------------------------------------


LOG_LINES = [
    ("Not Found: %s", (f"/l/{PERMALINK_TOKEN}",)),
    ("Forbidden (CSRF token missing.): %s", (f"/admin/login/?next=%2Fl%2F{PERMALINK_TOKEN}",)),
    (
        "delivery %s to webhook #%s, attempt %d: %s",
        (7, 3, 2, f"302 redirect to {PRESIGNED} not followed"),
    ),
    ("Batch %s failed: %s", (12, f"ClientError: bad request for {quoted(PRESIGNED, 1)}")),
    ("webhook secret %s rejected by receiver", (quoted(WHSEC, 1),)),
    ("receiver said: %s", (f'{{"error": "bad key {WHSEC_BODY}"}}',)),
]


def test_log_lines_are_redacted_through_the_logging_filter():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("linkdist-redaction-test")
    logger.addHandler(handler)
    try:
        for message, args in LOG_LINES:
            logger.warning(message, *args)
        try:
            raise RuntimeError(f"failed to fetch {PRESIGNED}")
        except RuntimeError:
            logger.exception("task failed for %s", f"/l/{PERMALINK_TOKEN}")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert written.count("\n") >= len(LOG_LINES)
    assert leaks(written) == []


# ---- attempt rows, recorded from real sends ------------------------------------------------


def endpoint(url: str) -> Recipient:
    recipient = Recipient.objects.create(kind="webhook", url=url)
    add_secret(recipient)
    return recipient


@pytest.mark.django_db
def test_attempt_rows_hold_no_secret_a_receiver_echoes(receiver):
    """The receiver answers with the endpoint's own secret (URL-encoded, and its bare base64
    body), a pre-signed URL in ?next= and a permalink path: the stored row has none."""
    secret = generate_secret()
    body = secret.removeprefix("whsec_")
    echo = (
        f"bad signature for secret {quoted(secret, 1)} (key {body}); "
        f"see /login/?next={quoted(PRESIGNED, 1)} or %2Fl%2F{PERMALINK_TOKEN}"
    ).encode()
    hook = receiver(default=Reply(status=400, body=echo))
    recipient = Recipient.objects.create(kind="webhook", url=hook.url)
    add_secret(recipient, secret)
    items = [{"id": 1, "key": "k", "url": PRESIGNED, "expires_at": "2030-01-01T00:00:00Z"}]
    [delivery] = publish("links.issued", subject="b", recipients=[recipient], items=items)

    dispatcher.run([delivery.id])

    attempt = Attempt.objects.get(delivery=delivery)
    assert hook.requests and attempt.status_code == 400
    stored = f"{attempt.response} {attempt.error}"
    assert "see /login/?next=" in stored  # the echo was kept, minus its secrets
    assert leaks(stored) == []
    assert body[:20] not in unquote(stored) and quoted(secret, 1)[10:30] not in stored


@pytest.mark.django_db
def test_a_redirect_to_a_nested_presigned_url_is_recorded_redacted(receiver):
    location = f"https://sso.example.com/login?next={quoted(PRESIGNED, 2)}"
    hook = receiver(default=Reply(status=302, headers={"Location": location}))
    [delivery] = publish("links.issued", subject="b", recipients=[endpoint(hook.url)], items=[])

    dispatcher.run([delivery.id])

    delivery.refresh_from_db()
    assert "redirect" in delivery.last_error
    assert leaks(delivery.last_error) == []
    assert leaks(Attempt.objects.get(delivery=delivery).error) == []


# ---- admin pages, rendered ---------------------------------------------------------------------


@pytest.fixture
def old_rows(db) -> Recipient:
    """Rows as an older release stored them: redacted by weaker rules, or not at all."""
    recipient = endpoint(
        f"https://hooks.example.com/in?token=abcd1234secretvalue&s={quoted(WHSEC, 1)}"
    )
    items = [
        {"id": 1, "key": "reports/q1.pdf", "url": PRESIGNED, "permalink": PERMALINK},
        {"id": 2, "key": "reports/q2.pdf", "url": quoted(PRESIGNED, 1), "permalink": PERMALINK},
    ]
    [delivery] = publish("links.issued", subject="b", recipients=[recipient], items=items)
    short = f"https://m.example/k?X-Amz-Credential={ACCESS_KEY}%2F2024&X-Amz-Signature={SIGNATURE}"
    raw_error = f"302 redirect to /login/?next={quoted(short, 1)} not followed"
    delivery.last_error = raw_error
    delivery.save(update_fields=["last_error"])
    Attempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=timezone.now(),
        outcome="permanent",
        status_code=302,
        latency_ms=5,
        error=raw_error,
        response=f"echo {quoted(WHSEC, 1)} {WHSEC_BODY} %2Fl%2F{PERMALINK_TOKEN}",
    )
    return recipient


def admin_pages(recipient: Recipient) -> dict[str, str]:
    delivery = recipient.deliveries.get()
    return {
        "delivery list": "/admin/notifications/delivery/",
        "delivery page": f"/admin/notifications/delivery/{delivery.id}/change/",
        "endpoint list": "/admin/notifications/recipient/",
        "endpoint page": f"/admin/notifications/recipient/{recipient.id}/change/",
    }


@pytest.mark.django_db
def test_admin_pages_show_no_secret(admin_client, old_rows):
    for name, path in admin_pages(old_rows).items():
        response = admin_client.get(path)
        assert response.status_code == 200, name
        page = response.content.decode()
        assert leaks(page) == [], name
        assert "abcd1234secretvalue" not in page, name
    delivery_page = admin_client.get(admin_pages(old_rows)["delivery page"]).content.decode()
    assert f"X-Amz-Signature={SIGNATURE[:6]}…" in delivery_page  # still tells links apart


@pytest.mark.django_db
def test_a_share_link_admin_page_shows_no_secret(admin_client, put_object):
    from tests.refresh_helpers import issue_in_process

    key = put_object(f"redaction/{secrets.token_hex(4)}.txt", b"x")
    link = issue_in_process([key], expires_in=600).links.get()
    signature = link.url.split("X-Amz-Signature=")[1]

    page = admin_client.get(f"/admin/tasks/sharelink/{link.id}/change/").content.decode()

    assert link.token not in page and link.token[:6] in page
    assert signature not in page and signature[:6] in page
