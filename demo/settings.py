"""Settings for `make demo`: the project's settings on embedded defaults, plus the demo app.

SQLite, an in-process broker, moto's S3, an SMTP sink and a webhook receiver, all on
loopback. The values are set here, whatever the environment or a .env file says; the two ports
are the usual ones when free (DEMO_S3_PORT, DEMO_SMTP_PORT choose others: demo/ports.py).
"""

import os

from demo.ports import demo_port

S3_PORT = demo_port("DEMO_S3_PORT", 45999)
SMTP_PORT = demo_port("DEMO_SMTP_PORT", 45998)

EMBEDDED = {
    "DJANGO_DEBUG": "true",
    "DJANGO_SECRET_KEY": "demo-only-not-secret",
    "FIELD_ENCRYPTION_KEYS": "ZGVtby1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5ISE=",
    "DJANGO_ENV_FILE": "/dev/null",
    "DATABASE_URL": "sqlite:///.demo/db.sqlite3",
    "CELERY_BROKER_URL": "memory://",
    "DJANGO_AWS_ACCESS_KEY_ID": "demo",
    "DJANGO_AWS_SECRET_ACCESS_KEY": "demo-secret",
    "DJANGO_AWS_STORAGE_BUCKET_NAME": "demo-media",
    "DJANGO_AWS_STATIC_BUCKET_NAME": "demo-static",
    "DJANGO_AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{S3_PORT}",
    "DJANGO_AWS_S3_REGION_NAME": "us-east-1",
    "DJANGO_AWS_S3_ADDRESSING_STYLE": "path",
    "DJANGO_AWS_S3_SECURE_URLS": "false",
    "DJANGO_AWS_S3_USE_SSL": "false",
    "DJANGO_AWS_GZIPPED": "false",
    "EMAIL_URL": f"smtp://127.0.0.1:{SMTP_PORT}",
    "WEBHOOK_ALLOW_HTTP": "true",
    "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    "WEBHOOK_ALLOWED_PORTS": "80,443,1024-65535",  # the receiver listens on a free port
    "CACHE_URL": "locmemcache://",  # one process: no Redis needed for the throttle counts
    "LINKS_REFRESH_MIN_TTL": "6",  # the demo shows a 6-second link refreshed (docs/limits.md)
}
os.environ.update(EMBEDDED)

from project.settings import *  # noqa: E402, F403
from project.settings import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "demo"]
