"""Limits per tenant: the minimum TTL of refreshing batches, the default refresh life, quotas
and throttles. Each refusal names its limit; PostgreSQL and the real Redis cache."""

from __future__ import annotations

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from schedules import runs
from tasks.batches import chunks
from tasks.batches.issuing import create_batch
from tasks.batches.limits import derived_min_refresh_ttl, min_refresh_ttl
from tasks.batches.spec import BatchRequest
from tasks.models import Batch
from tasks.revocation.revoke import revoke
from tests.auth import api_client_for
from tests.batches import unique_prefix
from tests.schedules import make_schedule
from tests.services.ports import free_port

DERIVED = {
    "LINKS_REFRESH_MIN_TTL": None,
    "LINKS_REFRESH_INTERVAL": 60,
    "LINKS_REFRESH_LEASE": 120,
    "WEBHOOK_TIMEOUT": 15,
    "EMAIL_TIMEOUT": 15,
    "DELIVERY_LEASE_GRACE": 10,
    "DELIVERY_SWEEP_INTERVAL": 15,
    "DELIVERY_REQUEUE_AFTER": 30,
}
# a lost delivery: noticed after max(15 + 1 + 10, 30) + 15 s, then sent within 15 s: 60 s;
# a lost pass: its lease (120 s) instead of an interval; plus the interval to the next pass
DERIVED_MIN = 2 * (60 + 120 + 60)  # 480 s


@pytest.fixture
def alice(django_user_model):
    user = django_user_model.objects.create_user("alice")
    return SimpleNamespace(user=user, api=api_client_for(user))


@pytest.fixture
def bob(django_user_model):
    user = django_user_model.objects.create_user("bob")
    return SimpleNamespace(user=user, api=api_client_for(user))


def post_batch(client, **body):
    return client.post("/api/batches/", {"keys": ["k/1"], "expires_in": 3600, **body}, "json")


# --- the minimum TTL (pure, then through the API, the CLI and schedules) ----------------


def test_the_minimum_ttl_is_twice_the_margin_that_holds_through_a_lost_worker():
    values = SimpleNamespace(**DERIVED)
    assert derived_min_refresh_ttl(values) == min_refresh_ttl(values) == DERIVED_MIN
    short_lease = SimpleNamespace(**{**DERIVED, "LINKS_REFRESH_LEASE": 10})
    assert derived_min_refresh_ttl(short_lease) == 2 * (60 + 60 + 60)  # an interval, then
    chosen = SimpleNamespace(**{**DERIVED, "LINKS_REFRESH_MIN_TTL": 40})
    assert min_refresh_ttl(chosen) == 40


@pytest.mark.django_db
@override_settings(**DERIVED)
def test_a_refreshing_batch_under_the_minimum_ttl_is_a_400_naming_it(alice):
    response = post_batch(alice.api, expires_in=1, refresh=True)

    assert response.status_code == 400, response.content
    message = response.json()["errors"]["expires_in"][0]
    assert f"at least {DERIVED_MIN} s" in message and "LINKS_REFRESH_MIN_TTL" in message
    assert Batch.objects.count() == 0
    assert post_batch(alice.api, expires_in=1).status_code == 201  # no refresh: no minimum
    assert post_batch(alice.api, expires_in=DERIVED_MIN, refresh=True).status_code == 201


@pytest.mark.django_db
@override_settings(LINKS_REFRESH_MIN_TTL=600)
def test_the_command_line_refuses_it_too_naming_the_flag():
    with pytest.raises(CommandError, match=r"--expires-in: .*at least 600 s"):
        call_command(
            "share_links", "--key", "k/1", "--expires-in", "5m", "--refresh", stderr=io.StringIO()
        )
    assert Batch.objects.count() == 0


@pytest.mark.django_db
@override_settings(LINKS_REFRESH_MIN_TTL=600)
def test_a_refreshing_schedule_under_the_minimum_is_refused_when_saved(alice):
    body = {
        "name": "short",
        "cron": "0 8 * * *",
        "prefix": "reports/",
        "selection": "newest",
        "expires_in": 60,
        "refresh": True,
    }
    response = alice.api.post("/api/schedules/", body, format="json")

    assert response.status_code == 400, response.content
    assert "at least 600 s" in response.json()["errors"]["expires_in"][0]
    assert alice.api.post("/api/schedules/", {**body, "refresh": False}, "json").status_code == 201
    schedule_id = alice.api.get("/api/schedules/").json()["results"][0]["id"]
    patched = alice.api.patch(f"/api/schedules/{schedule_id}/", {"refresh": True}, "json")
    assert patched.status_code == 400 and "expires_in" in patched.json()["errors"]


# --- the default refresh life -----------------------------------------------------------


@pytest.mark.django_db
@override_settings(LINKS_REFRESH_MAX_LIFE=7 * 86400)
def test_refreshing_without_refresh_until_stops_after_the_default_life(alice):
    before = timezone.now()
    response = post_batch(alice.api, refresh=True)

    assert response.status_code == 201, response.content
    batch = Batch.objects.get(id=response.json()["id"])
    assert batch.refresh_until is not None
    assert before + timedelta(days=7) <= batch.refresh_until <= timezone.now() + timedelta(days=7)
    given = timezone.now() + timedelta(days=3)  # within the cap (test_access_withdrawn.py)
    chosen = post_batch(alice.api, refresh_until=given.isoformat())
    assert Batch.objects.get(id=chosen.json()["id"]).refresh_until == given  # a choice is kept


# --- quotas ------------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(LINKS_QUOTA_BATCHES_PER_HOUR=2)
def test_batches_per_hour_over_the_quota_is_a_429_with_retry_after(alice, bob):
    assert [post_batch(alice.api).status_code for _ in range(2)] == [201, 201]

    refused = post_batch(alice.api)

    assert refused.status_code == 429
    assert refused.json()["limit"] == "LINKS_QUOTA_BATCHES_PER_HOUR"
    assert refused.json()["code"] == "limit_exceeded"
    assert "2 batches in the last hour" in refused.json()["detail"]
    assert 3500 <= int(refused["Retry-After"]) <= 3601
    assert Batch.objects.filter(owner=alice.user).count() == 2
    assert post_batch(bob.api).status_code == 201  # per owner
    Batch.objects.filter(owner=alice.user).update(created_at=timezone.now() - timedelta(hours=1))
    assert post_batch(alice.api).status_code == 201  # the window moved on


@pytest.mark.django_db
@override_settings(LINKS_QUOTA_REFRESHING_LINKS=3)
def test_refreshing_links_over_the_quota_are_a_403_naming_it(alice, bob, put_object):
    prefix = unique_prefix("quota")
    keys = [put_object(f"{prefix}{n}.txt", b"q") for n in range(3)]
    request = BatchRequest(keys=keys[:2], expires_in=3600, refresh=True)
    first = create_batch(request, owner=alice.user)
    for chunk_id in first.batch.chunks.values_list("id", flat=True):
        chunks.sign_chunk(chunk_id)  # now 2 refreshing links, not a pending batch

    refused = post_batch(alice.api, keys=keys[1:], refresh=True)

    assert refused.status_code == 403
    assert refused.json()["limit"] == "LINKS_QUOTA_REFRESHING_LINKS"
    assert "it has 2 and this batch adds 2" in refused.json()["detail"]
    assert "Retry-After" not in refused
    assert post_batch(alice.api, keys=keys[1:]).status_code == 201  # not refreshing: no quota
    assert post_batch(bob.api, keys=keys[1:], refresh=True).status_code == 201
    assert post_batch(alice.api, keys=keys[2:], refresh=True).status_code == 201  # the third
    revoke(first.batch.links.all())  # revoked links no longer count
    assert post_batch(alice.api, keys=keys[:2], refresh=True).status_code == 201


@pytest.mark.django_db
@override_settings(LINKS_QUOTA_BATCHES_PER_HOUR=1)
def test_a_schedule_run_over_the_owners_quota_fails_naming_it(alice, put_object):
    prefix = unique_prefix("sched-quota")
    put_object(f"{prefix}r.csv", b"r")
    assert post_batch(alice.api).status_code == 201
    schedule = make_schedule("over", prefix=prefix, owner=alice.user)

    run = runs.run_now(schedule.id, timezone.now()).run

    assert run.outcome == "failed" and run.batch is None
    assert "LINKS_QUOTA_BATCHES_PER_HOUR" in run.message


# --- throttles -----------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(API_THROTTLE_WRITE_RATE=(2, 86400))  # a day: the test stays in one window
def test_writes_over_the_per_user_rate_are_a_429_naming_it(alice, bob):
    assert [post_batch(alice.api).status_code for _ in range(2)] == [201, 201]

    refused = post_batch(alice.api)

    assert refused.status_code == 429
    assert refused.json()["limit"] == "API_THROTTLE_WRITE_RATE"
    assert "over 2 writes per 86400 s" in refused.json()["detail"]
    assert 1 <= int(refused["Retry-After"]) <= 86400
    assert alice.api.get("/api/batches/").status_code == 200  # reads have their own rate
    assert post_batch(bob.api).status_code == 201  # per user
    assert Batch.objects.filter(owner=alice.user).count() == 2


@pytest.mark.django_db
@override_settings(API_THROTTLE_RATE=(3, 86400))
def test_every_request_counts_toward_the_read_rate(alice):
    assert [alice.api.get("/api/batches/").status_code for _ in range(3)] == [200] * 3
    refused = alice.api.get("/api/recipients/")
    assert refused.status_code == 429
    assert refused.json()["limit"] == "API_THROTTLE_RATE"


@pytest.mark.django_db
def test_with_the_cache_down_requests_are_let_through(alice):
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    with override_settings(CACHES=down, API_THROTTLE_WRITE_RATE=(1, 86400)):
        assert [post_batch(alice.api).status_code for _ in range(2)] == [201, 201]


@pytest.mark.django_db
def test_the_schema_documents_the_refusals(alice):
    schema = alice.api.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]

    create = paths["/api/batches/"]["post"]["responses"]
    assert {"201", "403", "429"} <= set(create)
    assert "LINKS_QUOTA_BATCHES_PER_HOUR" in create["429"]["description"]
    assert "LINKS_QUOTA_REFRESHING_LINKS" in create["403"]["description"]
    assert "limit" in schema["components"]["schemas"]["Error"]["properties"]
    assert all("429" in op["responses"] for ops in paths.values() for op in ops.values())


# --- the refresh pools' capacity against a refreshing batch's size and TTL --------------


@pytest.mark.django_db
@override_settings(LINKS_REFRESH_RATE=2, LINKS_REFRESH_PARALLEL=1, LINKS_REFRESH_INTERVAL=60)
def test_a_batch_the_pools_cannot_keep_alive_is_a_400_naming_the_settings(alice):
    keys = [f"k/{n}" for n in range(400)]  # 200 s at 2 links/s
    response = post_batch(alice.api, keys=keys, expires_in=600, refresh=True)

    assert response.status_code == 400, response.content
    message = response.json()["errors"]["keys"][0]
    assert "cannot keep 400 links of 600 s alive" in message
    assert "LINKS_REFRESH_PARALLEL" in message and "2 links/s" in message
    assert Batch.objects.count() == 0
    assert post_batch(alice.api, keys=keys, expires_in=600).status_code == 201  # no refresh
    assert post_batch(alice.api, keys=keys[:100], expires_in=600, refresh=True).status_code == 201


@pytest.mark.django_db
@override_settings(LINKS_REFRESH_RATE=2, LINKS_REFRESH_PARALLEL=1, LINKS_REFRESH_INTERVAL=60)
def test_the_command_line_refuses_a_batch_the_pools_cannot_keep_alive():
    keys = [f"--key=k/{n}" for n in range(400)]
    with pytest.raises(CommandError, match=r"cannot keep 400 links of 600 s alive"):
        call_command("share_links", *keys, "--expires-in", "10m", "--refresh", stderr=io.StringIO())
    assert Batch.objects.count() == 0
