"""Per-address limits on the permalinks and the admin login: 429 with Retry-After, counted per
client address (IPv6 per /64), X-Forwarded-For believed only from the proxies named in
TRUSTED_PROXIES (tests/test_forwarded_clients.py)."""

from __future__ import annotations

import math
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from common.envparse import parse_rate
from tests.refresh_helpers import issue_in_process

pytestmark = pytest.mark.django_db
# The next instant that starts a window of every period used (within 5 minutes from now).
WINDOW_START = datetime.fromtimestamp(math.ceil(time.time() / 300) * 300, UTC)


def an_address() -> str:
    """A documentation address of its own, so that no other test shares its counter."""
    return f"198.51.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"


def an_ipv6_net() -> str:
    return f"2001:db8:{secrets.randbelow(65536):x}:{secrets.randbelow(65536):x}"


def unknown(client, address: str, **headers: str):
    return client.get("/l/no-such-token-" + "x" * 24, REMOTE_ADDR=address, **headers)


# ---- permalinks ----------------------------------------------------------------------


@override_settings(LINKS_PERMALINK_RATE=(3, 60))
def test_permalinks_answer_429_with_retry_after_past_the_limit(client):
    address = an_address()
    with time_machine.travel(WINDOW_START + timedelta(seconds=45), tick=False):
        statuses = [unknown(client, address).status_code for _ in range(3)]
        refused = unknown(client, address)

    assert statuses == [404, 404, 404]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "15"  # what is left of the minute
    assert refused["Cache-Control"] == "no-store"
    assert b"no-such-token" not in refused.content


@override_settings(LINKS_PERMALINK_RATE=(2, 60))
def test_a_working_permalink_is_limited_too_and_comes_back_after_the_window(client, put_object):
    key = put_object(f"limits/{secrets.token_hex(6)}.txt", b"body")
    link = issue_in_process([key], expires_in=600).links.get()
    address = an_address()

    with time_machine.travel(WINDOW_START, tick=False):
        first = [client.get(f"/l/{link.token}", REMOTE_ADDR=address) for _ in range(3)]
    with time_machine.travel(WINDOW_START + timedelta(seconds=60), tick=False):
        later = client.get(f"/l/{link.token}", REMOTE_ADDR=address)

    assert [r.status_code for r in first] == [302, 302, 429]
    assert first[2]["Retry-After"] == "60"
    assert later.status_code == 302
    link.refresh_from_db()
    assert link.hits == 3  # the refused request signed nothing and counted nothing


@override_settings(LINKS_PERMALINK_RATE=(1, 60))
def test_each_address_has_its_own_count(client):
    one, other = an_address(), an_address()
    with time_machine.travel(WINDOW_START, tick=False):
        assert unknown(client, one).status_code == 404
        assert unknown(client, one).status_code == 429
        assert unknown(client, other).status_code == 404


@override_settings(LINKS_PERMALINK_RATE=(1, 60))
def test_ipv6_clients_are_counted_per_64(client):
    net = an_ipv6_net()
    with time_machine.travel(WINDOW_START, tick=False):
        assert unknown(client, f"{net}::1").status_code == 404
        assert unknown(client, f"{net}:0:0:0:ffff").status_code == 429  # same /64
        assert unknown(client, f"{an_ipv6_net()}::1").status_code == 404  # another /64


@override_settings(LINKS_PERMALINK_RATE=(1, 60), TRUSTED_PROXIES=[])
def test_a_forged_x_forwarded_for_does_not_escape_the_limit(client):
    address = an_address()
    with time_machine.travel(WINDOW_START, tick=False):
        assert unknown(client, address, HTTP_X_FORWARDED_FOR=an_address()).status_code == 404
        refused = unknown(client, address, HTTP_X_FORWARDED_FOR=an_address())
    assert refused.status_code == 429


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_client(client):
    proxy, one, other = an_address(), an_address(), an_address()
    with (
        override_settings(LINKS_PERMALINK_RATE=(1, 60), TRUSTED_PROXIES=[proxy]),
        time_machine.travel(WINDOW_START, tick=False),
    ):
        first = unknown(client, proxy, HTTP_X_FORWARDED_FOR=f"{an_address()}, {one}")
        again = unknown(client, proxy, HTTP_X_FORWARDED_FOR=f"{an_address()}, {one}")
        another = unknown(client, proxy, HTTP_X_FORWARDED_FOR=other)
    assert [first.status_code, again.status_code, another.status_code] == [404, 429, 404]


@override_settings(LINKS_PERMALINK_RATE=None)
def test_the_limit_can_be_switched_off(client):
    address = an_address()
    assert {unknown(client, address).status_code for _ in range(30)} == {404}


# ---- the admin login -----------------------------------------------------------------


@pytest.fixture
def staff() -> User:
    name = f"staff-{secrets.token_hex(6)}"
    return User.objects.create_user(name, password="right-password", is_staff=True)


def log_in(client, user: User, password: str, address: str):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": user.username, "password": password},
        REMOTE_ADDR=address,
    )


@override_settings(ADMIN_LOGIN_RATE=(2, 300))
def test_admin_login_attempts_are_limited_per_address(client, staff):
    address = an_address()
    with time_machine.travel(WINDOW_START + timedelta(seconds=100), tick=False):
        wrong = [log_in(client, staff, "guess", address).status_code for _ in range(2)]
        refused = log_in(client, staff, "right-password", address)
        form = client.get("/admin/login/", REMOTE_ADDR=address)
        elsewhere = log_in(client, staff, "right-password", an_address())

    assert wrong == [200, 200]  # the form again, with its error
    assert refused.status_code == 429 and refused["Retry-After"] == "200"
    assert form.status_code == 200  # showing the form is not an attempt
    assert elsewhere.status_code == 302 and elsewhere["Location"] == "/admin/"


@override_settings(ADMIN_LOGIN_RATE=(1, 300))
def test_a_refused_login_does_not_log_in(client, staff):
    address = an_address()
    with time_machine.travel(WINDOW_START, tick=False):
        log_in(client, staff, "guess", address)
        refused = log_in(client, staff, "right-password", address)
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


# ---- the setting -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "rate"),
    [("120/1m", (120, 60)), ("10/m", (10, 60)), ("5/5m", (5, 300)), ("3/90", (3, 90))],
)
def test_rates_parse(raw, rate):
    assert parse_rate("LINKS_PERMALINK_RATE", raw) == rate


def test_off_switches_a_limit_off():
    assert parse_rate("ADMIN_LOGIN_RATE", "off") is None


@pytest.mark.parametrize("raw", ["120", "0/1m", "x/1m", "10/0", "10/xyz", "/1m", "-1/1m"])
def test_bad_rates_name_the_variable(raw):
    with pytest.raises(ImproperlyConfigured, match="ADMIN_LOGIN_RATE"):
        parse_rate("ADMIN_LOGIN_RATE", raw)
