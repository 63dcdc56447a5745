"""Schema-driven fuzzing of the whole HTTP API with schemathesis, against the real stack.

The Django app runs as a live HTTP server on PostgreSQL, signs through LocalStack's S3 and
hands batches to a real Celery worker process; the fuzzer authenticates with a token from
tests/auth.py. Every operation of the OpenAPI document is driven (its examples, then
generated data, valid and invalid), and then sequences of calls
follow the document's links (create a batch, read it, list its links, revoke it...).

Checks: no 5xx, every status code documented, every response body matching its schema,
every schema-valid request accepted and every schema-invalid one refused with a 4xx.
The budget (FUZZ_MAX_EXAMPLES per operation and phase, derandomized) keeps the run to a few
minutes; set FUZZ_MAX_EXAMPLES higher to search longer.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st

from tests.auth import api_token

pytestmark = [pytest.mark.s3, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
)
CONFIG = {
    # Text never holds NUL (U+0000): every text field refuses it with a 400, PostgreSQL could
    # not store it (tested on its own in test_api_contract).
    "generation": {
        "mode": "all",
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "allow-x00": False,
    },
    "phases": {
        "examples": {"enabled": True},
        # Off: its enumeration of every boundary combination (600 time zones, cron fields)
        # runs for many minutes before the first request; generated data reaches the limits.
        "coverage": {"enabled": False},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": True},
    },
    "checks": {
        "enabled": False,
        **{name: {"enabled": True} for name in CHECKS},
        # A schema-valid request that reuses an Idempotency-Key with another body is refused
        # with 422, as the IETF idempotency-key draft says; the API's validation errors are
        # 400, so a 422 here can mean only that (tests/test_idempotency.py covers it).
        "positive_data_acceptance": {
            "enabled": True,
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"],
        },
    },
    "request-timeout": 30,
}
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def openapi_document() -> dict[str, Any]:
    """The document /api/schema/ serves (generated the same way, before the server starts)."""
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.renderers import JSONRenderer

    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(JSONRenderer().render(document))


# The rules JSON Schema cannot state: `refresh_until` lies in the future, and at most
# LINKS_REFRESH_MAX_LIFE (30 days here) from now (the API refuses either with a 400 naming it;
# tests/test_batches_api.py and tests/test_access_withdrawn.py cover them).
SOON = datetime.now(UTC).replace(tzinfo=None)
schemathesis.openapi.format(
    "date-time",
    st.datetimes(
        min_value=SOON + timedelta(days=1),
        max_value=SOON + timedelta(days=29),
        timezones=st.just(UTC),
    ).map(lambda moment: moment.isoformat().replace("+00:00", "Z")),
)

schema = schemathesis.openapi.from_dict(
    openapi_document(), config=schemathesis.Config.from_dict(CONFIG)
)


@pytest.fixture
def call_kwargs(
    live_server: Any, django_user_model: Any, celery_worker: Any, settings: Any
) -> dict[str, Any]:
    """Where the API answers and a user's token, as a client would send them.

    Webhook targets may be any address here: the SSRF guard's refusals are about the
    deployment, not the shape (tests/test_delivery_ssrf.py covers them).
    """
    settings.WEBHOOK_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]
    user = django_user_model.objects.create_user("fuzzer")
    return {"base_url": live_server.url, "headers": {"Authorization": f"Token {api_token(user)}"}}


def test_the_server_serves_the_fuzzed_document(client: Any) -> None:
    assert client.get("/api/schema/", {"format": "json"}).json() == openapi_document()


@schema.parametrize()
@SETTINGS
def test_every_operation_holds_its_contract(
    case: schemathesis.Case, call_kwargs: dict[str, Any]
) -> None:
    case.call_and_validate(**call_kwargs)


def test_sequences_of_calls_hold_the_contract(call_kwargs: dict[str, Any]) -> None:
    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return call_kwargs

    Workflow.run(settings=hypothesis.settings(SETTINGS, stateful_step_count=6))
