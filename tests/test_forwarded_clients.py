"""Client addresses behind proxies: X-Forwarded-For is believed only from the proxies named in
TRUSTED_PROXIES (none by default), for the limits on /l/<token> and the admin login and for
/metrics' network rule."""

from __future__ import annotations

import secrets

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.checks import run_checks
from django.test import override_settings

from common.clientaddr import client_address, parse_networks, via_unknown_proxy
from tests.test_rate_limits import WINDOW_START, an_address, unknown

PROXY = "10.0.0.5"


def rotating() -> str:
    return f"203.0.113.{1 + secrets.randbelow(254)}"


@pytest.mark.django_db
@pytest.mark.parametrize("trusted", [[], ["10.0.0.0/8"]], ids=["none-trusted", "other-proxy"])
def test_rotating_x_forwarded_for_straight_to_the_process_does_not_escape_the_limit(
    client, trusted
):
    address = an_address()
    with (
        override_settings(LINKS_PERMALINK_RATE=(2, 60), TRUSTED_PROXIES=trusted),
        time_machine.travel(WINDOW_START, tick=False),
    ):
        statuses = [
            unknown(client, address, HTTP_X_FORWARDED_FOR=rotating()).status_code for _ in range(4)
        ]
    assert statuses == [404, 404, 429, 429]


@pytest.mark.django_db
@override_settings(LINKS_PERMALINK_RATE=(1, 60), TRUSTED_PROXIES=[PROXY])
def test_a_spoofed_address_does_not_get_someone_elses_permalinks_throttled(client):
    victim, attacker = an_address(), an_address()
    with time_machine.travel(WINDOW_START, tick=False):
        for _ in range(3):  # straight to the process, claiming to be the victim
            unknown(client, attacker, HTTP_X_FORWARDED_FOR=victim)
        through_proxy = unknown(client, PROXY, HTTP_X_FORWARDED_FOR=victim)
    assert through_proxy.status_code == 404  # the victim's own count is untouched


@pytest.mark.django_db
@override_settings(ADMIN_LOGIN_RATE=(2, 300), TRUSTED_PROXIES=[])
def test_rotating_x_forwarded_for_does_not_escape_the_admin_login_limit(client):
    user = User.objects.create_user(f"s-{secrets.token_hex(4)}", password="pw", is_staff=True)
    address = an_address()
    with time_machine.travel(WINDOW_START, tick=False):
        statuses = [
            client.post(
                "/admin/login/",
                {"username": user.username, "password": "guess"},
                REMOTE_ADDR=address,
                HTTP_X_FORWARDED_FOR=rotating(),
            ).status_code
            for _ in range(3)
        ]
    assert statuses == [200, 200, 429]


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=None, METRICS_ALLOWED_NETWORKS=["127.0.0.0/8"])
def test_metrics_through_an_unnamed_proxy_on_this_host_need_the_token(client):
    through_proxy = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=rotating())
    assert through_proxy.status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


@pytest.mark.django_db
@override_settings(
    METRICS_TOKEN=None, METRICS_ALLOWED_NETWORKS=["127.0.0.0/8"], TRUSTED_PROXIES=["127.0.0.1"]
)
def test_metrics_through_a_named_proxy_judge_the_client_it_saw(client):
    outside = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=rotating())
    assert outside.status_code == 403
    local = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert local.status_code == 200


@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),  # not from a proxy: headers ignored
        (PROXY, "203.0.113.9", "203.0.113.9"),
        (PROXY, "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # the client's own writing is left
        (PROXY, "203.0.113.9, 10.0.0.6", "203.0.113.9"),  # two trusted proxies in a row
        (PROXY, "", PROXY),
        ("::ffff:10.0.0.5", "203.0.113.9", "203.0.113.9"),  # IPv4-mapped proxy address
    ],
)
def test_the_client_is_the_nearest_untrusted_hop(remote, forwarded, client):
    meta = {"REMOTE_ADDR": remote, "HTTP_X_FORWARDED_FOR": forwarded}
    assert client_address(meta, parse_networks(["10.0.0.0/24"])) == client


def test_forwarding_headers_from_an_unnamed_address_are_told():
    trusted = parse_networks([PROXY])
    assert via_unknown_proxy({"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=x"}, trusted)
    assert not via_unknown_proxy({"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, trusted)
    assert not via_unknown_proxy({"REMOTE_ADDR": "127.0.0.1"}, trusted)


@override_settings(TRUSTED_PROXY_COUNT=1, TRUSTED_PROXIES=[])
def test_the_old_count_setting_warns_that_it_is_no_longer_used():
    ids = [message.id for message in run_checks()]
    assert "access.W002" in ids
