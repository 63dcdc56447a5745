"""Settings, read from the environment (and a .env file when present).

Every variable is listed in .env.example and the README's configuration table.
"""

from __future__ import annotations

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from project import env
from project.env import BASE_DIR

# Lets the classes django-stubs makes generic be subscripted at runtime too
# (`admin.ModelAdmin[Batch]`, `forms.ModelForm[Schedule]`); before any app module is imported.
django_stubs_ext.monkeypatch()

DEBUG = env.boolean("DJANGO_DEBUG", False)
SECRET_KEY = env.text("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off (production)"
        )
    SECRET_KEY = "insecure-development-key-never-used-in-production"  # noqa: S105
ALLOWED_HOSTS = env.words("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.words("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "idempotency",
    "access",
    "notifications",
    "tasks",
    "schedules",
    "retention",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env.db_url("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# A process-wide pool of at most this many PostgreSQL connections, shared by its threads
# (the deliveries worker runs hundreds of threads; PostgreSQL allows only so many sessions).
DB_POOL_SIZE = env.integer("DJANGO_DB_POOL_SIZE", 0, minimum=0)
if DB_POOL_SIZE and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_SIZE,
        "timeout": env.seconds("DJANGO_DB_POOL_TIMEOUT", 30),  # waiting for a free connection
    }
else:
    # One connection per process, kept between tasks and requests: a new one per task costs
    # a server process and its catalog caches, about a third of a bulk chunk's database
    # time (docs/performance.md, bulk). Checked before reuse, so a restarted server is
    # reconnected to. (A pooled process, above, takes its connections from the pool.)
    DATABASES["default"]["CONN_MAX_AGE"] = env.seconds("DJANGO_CONN_MAX_AGE", 300)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Celery's Django fixup closes the connection after every task unless told to reuse it;
    # project/celery.py still closes one that is broken or past CONN_MAX_AGE between tasks.
    CELERY_DB_REUSE_MAX = 1000  # tasks; then a new connection all the same
# A worker's first garbage-collection threshold (Python's is 700); 0: Python's defaults. Its
# start-up heap is frozen too (common/gctuning.py).
WORKER_GC_THRESHOLD = env.integer("WORKER_GC_THRESHOLD", 20_000, minimum=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env.text("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles"

# --- S3: a private media bucket (pre-signed links) and a static bucket -------------
AWS_ACCESS_KEY_ID = env.text("DJANGO_AWS_ACCESS_KEY_ID")
AWS_SECRET_ACCESS_KEY = env.text("DJANGO_AWS_SECRET_ACCESS_KEY")
AWS_SESSION_TOKEN = env.text("DJANGO_AWS_SESSION_TOKEN")
AWS_STORAGE_BUCKET_NAME = env.text("DJANGO_AWS_STORAGE_BUCKET_NAME")
AWS_STATIC_BUCKET_NAME = env.text("DJANGO_AWS_STATIC_BUCKET_NAME")
AWS_S3_REGION_NAME = env.text("DJANGO_AWS_S3_REGION_NAME", "us-east-1")
AWS_S3_ENDPOINT_URL = env.text("DJANGO_AWS_S3_ENDPOINT_URL")
AWS_S3_ADDRESSING_STYLE = env.text("DJANGO_AWS_S3_ADDRESSING_STYLE", "auto")
AWS_S3_USE_SSL = env.boolean("DJANGO_AWS_S3_USE_SSL", True)
AWS_S3_SECURE_URLS = env.boolean("DJANGO_AWS_S3_SECURE_URLS", True)
AWS_S3_CUSTOM_DOMAIN = env.text("DJANGO_AWS_S3_CUSTOM_DOMAIN")  # static bucket
AWS_MEDIA_CUSTOM_DOMAIN = env.text("DJANGO_AWS_MEDIA_CUSTOM_DOMAIN")  # private media bucket
AWS_MEDIA_CUSTOM_DOMAIN_SIGNING = env.text("DJANGO_AWS_MEDIA_CUSTOM_DOMAIN_SIGNING")
AWS_CLOUDFRONT_KEY_ID = env.text("DJANGO_AWS_CLOUDFRONT_KEY_ID")
AWS_CLOUDFRONT_KEY = env.text("DJANGO_AWS_CLOUDFRONT_KEY")  # PEM, "\n" may be escaped
AWS_IS_GZIPPED = env.boolean("DJANGO_AWS_GZIPPED", True)
AWS_QUERYSTRING_EXPIRE = env.seconds("DJANGO_AWS_QUERYSTRING_EXPIRE", 3600)
AWS_S3_SIGNATURE_VERSION = "s3v4"  # never SigV2: botocore presigns some regions with it
AWS_DEFAULT_ACL = None  # private objects; the bucket policy decides
GZIP_CONTENT_TYPES = (
    "text/css",
    "text/javascript",
    "application/json",
    "application/x-javascript",
    "text/x-javascript",
    "text/x-json",
    "text/json",
    "application/javascript",
    "image/svg+xml",
    "text/csv",
)

S3_CONFIGURED = any(
    (AWS_ACCESS_KEY_ID, AWS_STORAGE_BUCKET_NAME, AWS_STATIC_BUCKET_NAME, AWS_S3_ENDPOINT_URL)
)
if S3_CONFIGURED and not AWS_STORAGE_BUCKET_NAME:
    raise ImproperlyConfigured("DJANGO_AWS_STORAGE_BUCKET_NAME is required when S3 is configured")
if AWS_ACCESS_KEY_ID and not AWS_SECRET_ACCESS_KEY:
    raise ImproperlyConfigured(
        "DJANGO_AWS_SECRET_ACCESS_KEY is required with DJANGO_AWS_ACCESS_KEY_ID"
    )

STORAGES = {
    "default": {"BACKEND": "project.storages.MediaStorage"},
    "staticfiles": {
        "BACKEND": "project.storages.StaticStorage"
        if AWS_STATIC_BUCKET_NAME
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
if not AWS_STATIC_BUCKET_NAME:  # static files from this process, hashed and compressed
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )
if not S3_CONFIGURED:
    STORAGES["default"] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    MEDIA_ROOT = BASE_DIR / "media"

# --- Celery (Redis broker; the database holds the truth) ------------------------------
CELERY_BROKER_URL = env.text("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.seconds("CELERY_TASK_TIME_LIMIT", 600)
CELERY_TASK_SOFT_TIME_LIMIT = env.seconds("CELERY_TASK_SOFT_TIME_LIMIT", 540)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Queues by job, each served by its own worker pool (Procfile: upkeep, deliveries, quarantine,
# bulk), so that a million-key batch or a slow webhook endpoint never delays a refresh pass.
# The prefix lets a test run (or two deployments on one Redis) keep queues of its own.
CELERY_QUEUE_PREFIX = env.text("CELERY_QUEUE_PREFIX", "") or ""
QUEUE_UPKEEP = f"{CELERY_QUEUE_PREFIX}upkeep"  # refresh passes, lapse sweep, sweepers, ticks
QUEUE_DELIVERIES = f"{CELERY_QUEUE_PREFIX}deliveries"  # webhook and email sends (I/O pool)
# The bulkhead: sends to webhook endpoints whose last attempt failed (timed out, refused, 5xx)
# run in a process of their own, so their slowness never shares a process with healthy lanes.
QUEUE_QUARANTINE = f"{CELERY_QUEUE_PREFIX}quarantine"
QUEUE_BULK = f"{CELERY_QUEUE_PREFIX}bulk"  # listing, chunk signing, hand-over
CELERY_TASK_QUEUES = [
    Queue(name) for name in (QUEUE_UPKEEP, QUEUE_DELIVERIES, QUEUE_QUARANTINE, QUEUE_BULK)
]
CELERY_TASK_DEFAULT_QUEUE = QUEUE_BULK  # a worker without -Q consumes them all (the demo)
CELERY_TASK_ROUTES = {
    **{
        name: {"queue": QUEUE_UPKEEP}
        for name in (
            "tasks.refresh_links",
            "tasks.lapse_links",
            "tasks.resume_stalled_batches",
            "notifications.sweep",
            "schedules.tick",
            "tasks.revoke_links",  # a revocation waits neither behind signing nor sends
            "retention.purge_expired_records",  # small chunks, never the live path's locks
            "ops.heartbeat",  # beat's entries name each queue; this is only the default
        )
    },
    **{name: {"queue": QUEUE_DELIVERIES} for name in ("notifications.dispatch",)},
    "notifications.take_over": {"queue": QUEUE_QUARANTINE},  # a first contact cut off
    **{
        name: {"queue": QUEUE_BULK}
        for name in ("tasks.expand_batch", "tasks.sign_chunk", "tasks.hand_over_batch")
    },
}
# Task names are `<app>.<verb>`. Renamed tasks (old name: new name) stay registered under their
# old names, on the same queues, so that messages queued before an upgrade still run; they go
# in the next major release (docs/upgrading.md).
TASKS_RENAMED = {
    "notifications.tasks.dispatch": "notifications.dispatch",
    "notifications.tasks.sweep": "notifications.sweep",
    "tasks.purge_expired_records": "retention.purge_expired_records",
}
CELERY_TASK_ROUTES.update({old: CELERY_TASK_ROUTES[new] for old, new in TASKS_RENAMED.items()})
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- Email ----------------------------------------------------------------------------
_email = env.email_url("EMAIL_URL", "consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env.seconds("EMAIL_TIMEOUT", 15)
DEFAULT_FROM_EMAIL = env.text("DEFAULT_FROM_EMAIL", "links@localhost")

# --- Link policy ----------------------------------------------------------------------
LINKS_DEFAULT_EXPIRES_IN = env.seconds("LINKS_DEFAULT_EXPIRES_IN", 86400)
LINKS_HEALTH_TIMEOUT = env.seconds("LINKS_HEALTH_TIMEOUT", 3)

# --- Cache (throttles and anything short-lived; Redis so that every web process agrees) --
CACHES = {"default": env.cache_url("CACHE_URL", "redis://127.0.0.1:6379/1")}
CACHE_TIMEOUT = env.seconds("CACHE_TIMEOUT", 2)  # every cache call: connect and reply
if "redis" in CACHES["default"]["BACKEND"].lower():
    CACHES["default"].setdefault("OPTIONS", {})
    CACHES["default"]["OPTIONS"].setdefault("socket_connect_timeout", CACHE_TIMEOUT)
    CACHES["default"]["OPTIONS"].setdefault("socket_timeout", CACHE_TIMEOUT)
CACHES["default"].setdefault("KEY_PREFIX", env.text("CACHE_KEY_PREFIX", "linkdist") or "")

# --- Secrets at rest (webhook secrets, header values): Fernet keys, first one encrypts ----
FIELD_ENCRYPTION_KEYS = env.words("FIELD_ENCRYPTION_KEYS", [])

# --- API ------------------------------------------------------------------------------
# Per user: every request, and the requests that create or change something.
API_THROTTLE_RATE = env.rate("API_THROTTLE_RATE", "1200/1m")
API_THROTTLE_WRITE_RATE = env.rate("API_THROTTLE_WRITE_RATE", "120/1m")
# How long a POST's Idempotency-Key is remembered (a retry within it gets the same answer).
IDEMPOTENCY_KEY_TTL = env.seconds("IDEMPOTENCY_KEY_TTL", 86400)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "access.permissions.NarrowedTokensOnlyWhereScoped",  # token scopes bound every view
    ],
    "DEFAULT_SCHEMA_CLASS": "common.apischema.ApiSchema",
    "DEFAULT_PAGINATION_CLASS": "common.pagination.Pages",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_CLASSES": [
        "common.throttling.UserThrottle",
        "common.throttling.UserWriteThrottle",
    ],
    "EXCEPTION_HANDLER": "common.apierrors.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": ["common.jsonbody.SafeJSONParser"],  # the API speaks JSON
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "linkdist API",
    "VERSION": "0.1.0",
    "DESCRIPTION": (
        "Pre-signed links to private S3 objects: issued in bulk (batches), on a calendar "
        "(schedules), delivered by email or signed webhook (recipients, deliveries), kept alive "
        "and revoked (links). Authenticate with `Authorization: Token <token>` (a token comes "
        "from `python manage.py api_token USERNAME`). Each user sees only their own objects. "
        "Every error answers one body: `{code, detail, errors}` (the `Error` schema)."
    ),
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "BatchStatusEnum": "tasks.models.Batch.Status",
        "ShareLinkStatusEnum": "tasks.models.ShareLink.Status",
        "DeliveryStatusEnum": "notifications.models.Delivery.Status",
    },
    # The webhook event catalog (notifications/schemas/) as the document's `webhooks` section.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "notifications.openapi.add_webhooks",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "common.redact.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.text("DJANGO_LOG_LEVEL", "INFO")},
    # Django's own "django" handler (DEBUG only) would print request lines unredacted.
    "loggers": {"django": {"handlers": ["console"], "propagate": False}},
}

# --- HTTPS behind a proxy (`manage.py check --deploy` is clean with .env.example) ---------
# The proxy in front must set X-Forwarded-Proto (and strip a client's own) when trusted.
if env.boolean("DJANGO_SECURE_PROXY_SSL_HEADER", not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.boolean("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Probes and scrapers may speak plain http to the process itself.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.seconds("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env.boolean("DJANGO_SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.boolean("DJANGO_SECURE_COOKIES", not DEBUG)

# The media bucket's signing settings are checked by tasks.checks (linkdist.E001).

# --- Batches: bulk share links (tasks app) ----------------------------------------------
LINKS_CHUNK_SIZE = env.integer("LINKS_CHUNK_SIZE", 5000, minimum=1)
LINKS_MAX_BATCH_SIZE = env.integer("LINKS_MAX_BATCH_SIZE", 1_000_000, minimum=1)
LINKS_CHUNK_MAX_RETRIES = env.integer("LINKS_CHUNK_MAX_RETRIES", 8, minimum=0)
LINKS_LOCK_TIMEOUT = env.seconds("LINKS_LOCK_TIMEOUT", 10)
LINKS_REQUEUE_AFTER = env.seconds("LINKS_REQUEUE_AFTER", 900)
LINKS_SWEEP_INTERVAL = env.seconds("LINKS_SWEEP_INTERVAL", 60)  # beat: resume stalled batches
LINKS_SWEEP_LIMIT = env.integer(
    "LINKS_SWEEP_LIMIT", 5000, minimum=1
)  # rows of each kind a sweep takes
LINKS_PUBLIC_BASE_URL = env.text("LINKS_PUBLIC_BASE_URL")

# --- Deliveries (notifications app): webhooks, email, the outbox ---------------------
# Plain-http webhook URLs are refused unless allowed (the tests allow them).
WEBHOOK_ALLOW_HTTP = env.boolean("WEBHOOK_ALLOW_HTTP", False)
# Networks (CIDR) a webhook may reach although they are loopback/private/link-local.
WEBHOOK_ALLOWED_NETWORKS = env.networks("WEBHOOK_ALLOWED_NETWORKS", [])
# Ports a webhook URL may name (cloud metadata addresses are refused whatever is allowed).
WEBHOOK_ALLOWED_PORTS = env.ports("WEBHOOK_ALLOWED_PORTS", "80,443")
WEBHOOK_MAX_BODY_BYTES = env.integer("WEBHOOK_MAX_BODY_BYTES", 262144, minimum=8192)
WEBHOOK_CONNECT_TIMEOUT = env.seconds("WEBHOOK_CONNECT_TIMEOUT", 5)
WEBHOOK_TIMEOUT = env.seconds("WEBHOOK_TIMEOUT", 15)  # the whole request
# The deadline of a first contact (an endpoint that has never answered, sent from `deliveries`
# beside the healthy lanes): cut off sooner, it is retried at once in quarantine with
# WEBHOOK_TIMEOUT, its try not spent. 0 (or >= WEBHOOK_TIMEOUT): no shorter first deadline.
WEBHOOK_FIRST_CONTACT_TIMEOUT = env.seconds("WEBHOOK_FIRST_CONTACT_TIMEOUT", 3)
# A first contact from `deliveries` has this long to answer; past it, it runs on to its deadline
# only with one of the process's WEBHOOK_FIRST_CONTACTS slots, cut off there without one.
# 0 (or >= WEBHOOK_FIRST_CONTACT_TIMEOUT): no slots, every first contact has its whole deadline.
WEBHOOK_FIRST_CONTACT_GRACE = env.seconds("WEBHOOK_FIRST_CONTACT_GRACE", 1)
# First contacts past their grace at once per `deliveries` process (first_contact.py).
WEBHOOK_FIRST_CONTACTS = env.integer("WEBHOOK_FIRST_CONTACTS", 20, minimum=1)
WEBHOOK_SECRET_GRACE = env.seconds("WEBHOOK_SECRET_GRACE", 86400)  # old secret after rotation
WEBHOOK_DISABLE_AFTER = env.seconds("WEBHOOK_DISABLE_AFTER", 5 * 86400)  # failing, no success
WEBHOOK_POOL_MAXSIZE = env.integer("WEBHOOK_POOL_MAXSIZE", 4, minimum=1)  # per host
# Delays before each retry; after the last one a delivery fails.
DELIVERY_RETRY_SCHEDULE = env.durations("DELIVERY_RETRY_SCHEDULE", "0,5s,5m,30m,2h,5h,10h,10h")
DELIVERY_RETRY_JITTER_PERCENT = env.integer("DELIVERY_RETRY_JITTER_PERCENT", 20, minimum=0)
DELIVERY_MAX_RETRY_AFTER = env.seconds("DELIVERY_MAX_RETRY_AFTER", 86400)
DELIVERY_COUNTDOWN_MAX = env.seconds("DELIVERY_COUNTDOWN_MAX", 60)  # longer waits: the sweeper
DELIVERY_DISPATCH_BATCH = env.integer("DELIVERY_DISPATCH_BATCH", 100, minimum=1)
DELIVERY_RUN_BUDGET = env.seconds("DELIVERY_RUN_BUDGET", 60)  # then a run re-enqueues the rest
# A claim is a lease of the send's deadline plus this grace (renewed every round); one not
# renewed in time is a lost worker's: the sweeper sends it again, with the same webhook-id.
DELIVERY_LEASE_GRACE = env.seconds("DELIVERY_LEASE_GRACE", 10)
if DELIVERY_LEASE_GRACE < 1:
    raise ImproperlyConfigured("DELIVERY_LEASE_GRACE must be at least 1 second")
DELIVERY_REQUEUE_AFTER = env.seconds("DELIVERY_REQUEUE_AFTER", 30)  # enqueued but not taken
DELIVERY_SWEEP_INTERVAL = env.seconds("DELIVERY_SWEEP_INTERVAL", 15)
# Fairness: attempts in flight at once per webhook endpoint (each a lane sending in turn), and
# for email (one SMTP connection each).
DELIVERY_ENDPOINT_LANES = env.integer("DELIVERY_ENDPOINT_LANES", 2, minimum=1)
DELIVERY_EMAIL_LANES = env.integer("DELIVERY_EMAIL_LANES", 4, minimum=1)
# The circuit breaker: after this many timeouts or errors in a row an endpoint is left alone
# for the next wait of the back-off (the last one repeats), then one probe decides.
DELIVERY_BREAKER_AFTER = env.integer("DELIVERY_BREAKER_AFTER", 5, minimum=1)
DELIVERY_BREAKER_BACKOFF = env.durations("DELIVERY_BREAKER_BACKOFF", "30s,1m,5m,15m,30m,1h")
DELIVERY_SWEEP_LIMIT = env.integer("DELIVERY_SWEEP_LIMIT", 20000, minimum=1)
DELIVERY_RESPONSE_MAX_BYTES = env.integer("DELIVERY_RESPONSE_MAX_BYTES", 4096, minimum=0)
EMAIL_LINK_LIMIT = env.integer("EMAIL_LINK_LIMIT", 50, minimum=1)  # more: a CSV manifest link

# --- Refresh, permalinks, revocation (tasks/refresh) --------------------------------
# A link is re-signed when its remaining life falls under MARGIN % of its lifetime, but
# never under FLOOR (capped at half the lifetime); batches may override both.
LINKS_REFRESH_MARGIN_PERCENT = env.integer("LINKS_REFRESH_MARGIN_PERCENT", 20, minimum=1)
if LINKS_REFRESH_MARGIN_PERCENT >= 100:
    raise ImproperlyConfigured("LINKS_REFRESH_MARGIN_PERCENT must be between 1 and 99")
LINKS_REFRESH_FLOOR = env.seconds("LINKS_REFRESH_FLOOR", 300)
LINKS_REFRESH_INTERVAL = env.seconds("LINKS_REFRESH_INTERVAL", 60)  # beat: one pass each
LINKS_REFRESH_CHUNK = env.integer("LINKS_REFRESH_CHUNK", 5000, minimum=1)  # links per claim
# Passes run at once (on as many worker processes) when that many chunks are due.
LINKS_REFRESH_PARALLEL = env.integer("LINKS_REFRESH_PARALLEL", 2, minimum=1)
LINKS_REFRESH_PASS_LIMIT = env.integer("LINKS_REFRESH_PASS_LIMIT", 50000, minimum=1)  # then requeue
# Links this process cannot refresh now (in another bucket) are tried again after this.
LINKS_REFRESH_RETRY_AFTER = env.seconds("LINKS_REFRESH_RETRY_AFTER", 120)
LINKS_REFRESH_CHECK_EXISTS = env.boolean("LINKS_REFRESH_CHECK_EXISTS", True)  # HEAD each link
LINKS_LAPSE_INTERVAL = env.seconds("LINKS_LAPSE_INTERVAL", 60)
LINKS_PERMALINK_TTL = env.seconds("LINKS_PERMALINK_TTL", 300)  # the URL a permalink redirects to
# A pass leases the links it takes for this long while it checks and signs them outside any
# row lock; if it dies, they are due again when the lease ends.
LINKS_REFRESH_LEASE = env.seconds("LINKS_REFRESH_LEASE", 120)
# Links per second one refresh pass re-signs, until passes have measured it (the figure of
# docs/performance.md, existence check on): sizes chunks, the margin in force, the largest
# refreshing batch the pools keep alive, and the lease check.
LINKS_REFRESH_RATE = env.integer("LINKS_REFRESH_RATE", 500, minimum=1)

# --- Limits per tenant (tasks/batches/limits.py, tasks/batches/quotas.py) ------------------
# A refreshing batch's links live at least this long; unset: derived from the refresh
# interval and the worst recovery (2 × (LINKS_REFRESH_INTERVAL + recovery)).
LINKS_REFRESH_MIN_TTL = env.optional_seconds("LINKS_REFRESH_MIN_TTL")
LINKS_REFRESH_MAX_LIFE = env.seconds("LINKS_REFRESH_MAX_LIFE", 30 * 86400)  # no refresh_until
LINKS_QUOTA_BATCHES_PER_HOUR = env.integer("LINKS_QUOTA_BATCHES_PER_HOUR", 100, minimum=0)
LINKS_QUOTA_REFRESHING_LINKS = env.integer("LINKS_QUOTA_REFRESHING_LINKS", 1_000_000, minimum=0)

# --- Rate limits per client address: permalinks and the admin login ----------------------
# Requests per period ("120/1m", "10/5m") or "off"; over it, 429 with Retry-After.
LINKS_PERMALINK_RATE = env.rate("LINKS_PERMALINK_RATE", "120/1m")
ADMIN_LOGIN_RATE = env.rate("ADMIN_LOGIN_RATE", "10/5m")  # login form submissions
# Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For is believed, for the
# per-address limits and /metrics' network rule; default none: REMOTE_ADDR is the client.
TRUSTED_PROXIES = env.networks("TRUSTED_PROXIES", [])
# Replaced by TRUSTED_PROXIES (a count trusted any client that reached the process directly):
# still read, only to warn when it is set without TRUSTED_PROXIES (access.checks).
TRUSTED_PROXY_COUNT = env.integer("TRUSTED_PROXY_COUNT", 0, minimum=0)

# --- Schedules (schedules): batches on a calendar --------------------------------
SCHEDULES_TICK_INTERVAL = env.seconds("SCHEDULES_TICK_INTERVAL", 30)  # how often due ones run

# --- Retention (retention, retention): nothing grows without bound ----
# Ended links with their batch (chunks, skipped keys, revocations, manifests) this long after
# the last of them ended; deliveries with their attempts and message bodies this long after
# they ended; schedule runs this long (a schedule's last run is always kept).
RETENTION_LINKS = env.seconds("RETENTION_LINKS", 90 * 86400)
RETENTION_DELIVERIES = env.seconds("RETENTION_DELIVERIES", 30 * 86400)
RETENTION_SCHEDULE_RUNS = env.seconds("RETENTION_SCHEDULE_RUNS", 365 * 86400)
RETENTION_INTERVAL = env.seconds("RETENTION_INTERVAL", 3600)  # beat: one purge run
RETENTION_CHUNK = env.integer("RETENTION_CHUNK", 1000, minimum=1)  # rows per transaction
# Share of the time the purge works: after each chunk it rests in proportion to the chunk's
# own duration, so the refresh pass and deliveries keep their rate (bench_retention.py).
RETENTION_DUTY_PERCENT = env.integer("RETENTION_DUTY_PERCENT", 20, minimum=1)
if RETENTION_DUTY_PERCENT > 100:
    raise ImproperlyConfigured("RETENTION_DUTY_PERCENT must be between 1 and 100")
# One run stops after this long and leaves the rest to the next (beat's expiry, time limits).
RETENTION_RUN_SECONDS = env.seconds("RETENTION_RUN_SECONDS", 480)
if RETENTION_RUN_SECONDS >= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured("RETENTION_RUN_SECONDS must be shorter than the soft time limit")

# --- Periodic tasks (one beat: `celery -A project beat`) ------------------------------
CELERY_BEAT_SCHEDULE = {
    "resume-stalled-batches": {
        "task": "tasks.resume_stalled_batches",
        "schedule": float(LINKS_SWEEP_INTERVAL),
        "options": {"expires": float(LINKS_SWEEP_INTERVAL)},
    },
    "notifications-sweep": {
        "task": "notifications.sweep",
        "schedule": float(DELIVERY_SWEEP_INTERVAL),
        "options": {"expires": float(DELIVERY_SWEEP_INTERVAL)},
    },
    "refresh-links": {
        "task": "tasks.refresh_links",
        "schedule": float(LINKS_REFRESH_INTERVAL),
        "options": {"expires": float(LINKS_REFRESH_INTERVAL)},
    },
    "lapse-links": {
        "task": "tasks.lapse_links",
        "schedule": float(LINKS_LAPSE_INTERVAL),
        "options": {"expires": float(LINKS_LAPSE_INTERVAL)},
    },
    "schedules-tick": {
        "task": "schedules.tick",
        "schedule": float(SCHEDULES_TICK_INTERVAL),
        "options": {"expires": float(SCHEDULES_TICK_INTERVAL)},
    },
    "retention-purge": {
        "task": "retention.purge_expired_records",
        "schedule": float(RETENTION_INTERVAL),
        "options": {"expires": float(RETENTION_INTERVAL)},
    },
}

# --- Operations (ops): /healthz, /metrics, heartbeats -------------------------------------
# Beat sends a heartbeat to every queue this often; /healthz fails when beat has sent none for
# HEALTH_MAX_BEAT_AGE, or no worker took one from a queue for its limit below.
HEALTH_HEARTBEAT_INTERVAL = env.seconds("HEALTH_HEARTBEAT_INTERVAL", 10)
HEALTH_MAX_BEAT_AGE = env.seconds("HEALTH_MAX_BEAT_AGE", 60)
HEALTH_MAX_QUEUE_WAIT = env.seconds("HEALTH_MAX_QUEUE_WAIT", 120)  # upkeep, deliveries
HEALTH_MAX_BULK_WAIT = env.seconds("HEALTH_MAX_BULK_WAIT", 1800)  # a big batch may queue long
# Failing endpoints' sends each hold a quarantine slot for up to WEBHOOK_TIMEOUT.
HEALTH_MAX_QUARANTINE_WAIT = env.seconds("HEALTH_MAX_QUARANTINE_WAIT", 600)
# Links at risk: the oldest due link (delivery) has waited longer than this for its refresh.
HEALTH_MAX_REFRESH_LAG = env.seconds("HEALTH_MAX_REFRESH_LAG", 300)
HEALTH_MAX_DELIVERY_LAG = env.seconds("HEALTH_MAX_DELIVERY_LAG", 600)
HEALTH_CACHE_SECONDS = env.seconds("HEALTH_CACHE_SECONDS", 5)  # one evaluation per this long
if HEALTH_MAX_BEAT_AGE <= HEALTH_HEARTBEAT_INTERVAL:
    raise ImproperlyConfigured("HEALTH_MAX_BEAT_AGE must be longer than HEALTH_HEARTBEAT_INTERVAL")
HEALTH_QUEUE_MAX_AGE = {
    QUEUE_UPKEEP: HEALTH_HEARTBEAT_INTERVAL + HEALTH_MAX_QUEUE_WAIT,
    QUEUE_DELIVERIES: HEALTH_HEARTBEAT_INTERVAL + HEALTH_MAX_QUEUE_WAIT,
    QUEUE_QUARANTINE: HEALTH_HEARTBEAT_INTERVAL + HEALTH_MAX_QUARANTINE_WAIT,
    QUEUE_BULK: HEALTH_HEARTBEAT_INTERVAL + HEALTH_MAX_BULK_WAIT,
}
for _queue, _limit in HEALTH_QUEUE_MAX_AGE.items():
    CELERY_BEAT_SCHEDULE[f"ops-heartbeat-{_queue}"] = {
        "task": "ops.heartbeat",
        "schedule": float(HEALTH_HEARTBEAT_INTERVAL),
        "args": [_queue],
        "options": {"queue": _queue, "expires": float(_limit)},
    }
# /metrics answers a bearer token, or requests from these networks (default: this host).
METRICS_TOKEN = env.text("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = env.networks("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
METRICS_CACHE_SECONDS = env.seconds("METRICS_CACHE_SECONDS", 10)  # database gauges
