"""Test settings: PostgreSQL, Redis on a queue of this run's own, LocalStack's S3.

Values that a worker subprocess must share are put into os.environ, so that a
worker started by the tests reads the same ones.
"""

import os
import uuid

RUN_ID = os.environ.setdefault("LINKDIST_TEST_RUN", uuid.uuid4().hex[:8])

os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")
# Secrets at rest: a fixed test key (workers started by the tests read the same one).
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdHMtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=")
os.environ.setdefault("DJANGO_AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("DJANGO_AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("DJANGO_AWS_STORAGE_BUCKET_NAME", f"media-{RUN_ID}")
os.environ.setdefault("DJANGO_AWS_STATIC_BUCKET_NAME", f"static-{RUN_ID}")
os.environ.setdefault("DJANGO_AWS_S3_REGION_NAME", "us-east-1")
os.environ.setdefault("DJANGO_AWS_S3_ENDPOINT_URL", "http://127.0.0.1:4566")
os.environ.setdefault("DJANGO_AWS_S3_ADDRESSING_STYLE", "path")
os.environ.setdefault("DJANGO_AWS_S3_SECURE_URLS", "false")
os.environ.setdefault("DJANGO_AWS_S3_USE_SSL", "false")
os.environ.setdefault("DJANGO_AWS_GZIPPED", "false")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CELERY_QUEUE_PREFIX", f"test-{RUN_ID}-")  # queues of this run's own
# Deliveries: loopback receivers over plain http, an SMTP server on a port chosen now (so a
# worker started later knows it), short retry schedules and timeouts so tests stay quick.
os.environ.setdefault("WEBHOOK_ALLOW_HTTP", "true")
os.environ.setdefault("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
# Receivers on free ports, and port 9 (discard) as a dead end; test_ssrf_defaults tests 80,443.
os.environ.setdefault("WEBHOOK_ALLOWED_PORTS", "1-65535")
os.environ.setdefault("WEBHOOK_CONNECT_TIMEOUT", "2")
os.environ.setdefault("WEBHOOK_TIMEOUT", "2")
os.environ.setdefault("DELIVERY_RETRY_SCHEDULE", "0,1s,1s,1s,1s,1s,1s,1s")
os.environ.setdefault("DELIVERY_RETRY_JITTER_PERCENT", "10")
if "EMAIL_URL" not in os.environ:
    from tests.services.ports import free_port

    os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"
os.environ.setdefault("EMAIL_TIMEOUT", "5")
# Generous per-address limits: every test client is 127.0.0.1 (the limit tests set their own).
os.environ.setdefault("LINKS_PERMALINK_RATE", "100000/1m")
os.environ.setdefault("ADMIN_LOGIN_RATE", "100000/1m")
os.environ.setdefault("SCHEDULES_TICK_INTERVAL", "2")  # a beat started by a test ticks often
os.environ.setdefault("LINKS_LOCK_TIMEOUT", "2")  # a held lock turns into a retry quickly
# Limits: the short-TTL refresh tests need no minimum; the limit tests set their own values.
os.environ.setdefault("LINKS_REFRESH_MIN_TTL", "1")
os.environ.setdefault("API_THROTTLE_RATE", "60000/1m")
os.environ.setdefault("API_THROTTLE_WRITE_RATE", "6000/1m")
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{RUN_ID}")  # runs share one Redis
# Always PostgreSQL in tests, whatever DATABASE_URL says for development.
os.environ["DATABASE_URL"] = os.environ.get(
    "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/linkdist"
)

from project.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
