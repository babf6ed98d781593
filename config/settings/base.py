"""Settings for every environment, read from the environment with strict helpers.

With no environment at all Seams runs embedded: SQLite beside the code and background
jobs executed in-process after commit. `DATABASE_URL` and `REDIS_URL` switch it to
PostgreSQL and a real Celery worker without any code change.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean; refuse anything that is not clearly yes or no."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_int(name: str, default: int) -> int:
    """Read an integer; a typo fails at start-up, not at the first request."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
DEVELOPMENT_SECRET_KEY = "seams-insecure-development-key"
# Keys that are public (in this code, in examples) or too simple to keep sessions safe.
WEAK_SECRET_KEYS = {DEVELOPMENT_SECRET_KEY, "change-me", "changeme", "secret", "build-only"}
# The embedded mode keeps its own random key beside the SQLite database (git-ignored), so the
# documented `manage.py` commands work with DEBUG off and no environment at all.
EMBEDDED_SECRET_KEY_FILE = BASE_DIR / "seams.secret_key"


def weak_secret_key_reason(key: str) -> str | None:
    """Why `key` is too weak to sign sessions in production, or None when it is fine.

    The same rules as Django's `check --deploy` (security.W009), enforced at start-up:
    at least 50 characters, at least 5 different ones, not a known placeholder.
    """
    if key in WEAK_SECRET_KEYS or key.startswith("django-insecure-"):
        return "it is a published placeholder"
    if len(key) < 50:
        return f"it has {len(key)} characters (at least 50 are needed)"
    if len(set(key)) < 5:
        return f"it has only {len(set(key))} different characters (at least 5 are needed)"
    return None


def embedded_secret_key(path: Path) -> str:
    """The embedded mode's key: read from `path`, or made once and kept there (mode 0600)."""
    import secrets

    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    try:
        # O_EXCL: two commands started at once must not end up with different keys.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = DEVELOPMENT_SECRET_KEY
    elif not os.environ.get("DATABASE_URL"):
        SECRET_KEY = embedded_secret_key(EMBEDDED_SECRET_KEY_FILE)
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off and DATABASE_URL is set; make one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
elif not DEBUG and (why := weak_secret_key_reason(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak for DEBUG off: {why}; make one with "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Failed logins counted in the database (per account and per address), so the lockout
    # holds in every web process and does not depend on Redis.
    "axes",
    "csp",
    "taxonomy",
    "review_templates",
    "incidents",
    "similarity",
    "duplicates",
    "reports",
    "idempotency",
    "notifications",
    "people",
    "reviewflow",
    "actions",
    "exports",
    "timeline_import",
    "trackers",
    "webhooks",
    "chat",
]

MIDDLEWARE = [
    # First, so an over-long URL is refused before any other work.
    "incidents.api.middleware.UriLengthLimitMiddleware",
    "incidents.api.middleware.ControlCharacterMiddleware",
    "incidents.api.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out account or address is refused before its password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.inbox",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'seams.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has no row locks. A transaction that reads and then writes while another one
    # writes fails at once with "database is locked" (SQLite cannot wait for the upgrade);
    # taking the write lock when the transaction begins makes the others wait their turn.
    # In write-ahead-log mode a reader never waits for a writer, nor a writer for readers, and
    # a commit appends to one file instead of writing and deleting a rollback journal.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE", timeout=20, init_command="PRAGMA journal_mode=WAL;"
    )
# PostgreSQL compiles a statement it estimates as costly to machine code first (JIT). Seams'
# statements are short, and their estimates are often far above what they read (a
# per-reader look-up estimated at 170,000 rows reads 5,000): JIT spent 1.35 s of 1.6 s on
# one of them at 100,000 reviews. SEAMS_POSTGRES_JIT=on keeps it.
elif (
    DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    and os.environ.get("SEAMS_POSTGRES_JIT", "off") != "on"
):
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# A review section larger than this is refused with a message, not a server error.
SEAMS_MAX_SECTION_CHARS = env_int("SEAMS_MAX_SECTION_CHARS", 100_000)
# Longest URL (path + query string, in bytes) Seams answers; longer ones get 414.
SEAMS_MAX_URI_LENGTH = env_int("SEAMS_MAX_URI_LENGTH", 4096)
# Large enough that a 10 MB section reaches form validation (which names the limit and keeps
# the text on the page); anything larger gets the 400 page that names this limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 24 * 1024 * 1024)

# --- E-mail ------------------------------------------------------------------------------
# Notifications and reminders are e-mailed. Without EMAIL_HOST (the embedded mode) they are
# printed to the console; with it, sent over SMTP with the settings below.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "1") == "1"
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Seams <seams@localhost>")
# The address people reach Seams at, for links in e-mails (which have no request to ask).
SEAMS_BASE_URL = os.environ.get("SEAMS_BASE_URL", "http://127.0.0.1:8000")
# Fernet keys for secrets Seams must read back (tracker tokens, webhook secrets), newest first;
# empty derives one from SECRET_KEY (common/encryption.py).
SEAMS_ENCRYPTION_KEYS = os.environ.get("SEAMS_ENCRYPTION_KEYS", "")
# A notification whose e-mail job was lost (broker down) is queued again after this long.
SEAMS_NOTIFICATION_EMAIL_GRACE_SECONDS = env_int("SEAMS_NOTIFICATION_EMAIL_GRACE_SECONDS", 600)

# --- Chat (docs/integrations/slack.md) -------------------------------------------------------
# Without a signing secret the Slack endpoints answer 503: Slack is not configured.
SLACK_SIGNING_SECRET = os.environ.get("SLACK_SIGNING_SECRET", "")
# The bot token (xoxb-…) that unfurls Seams links through chat.unfurl.
SLACK_BOT_TOKEN = os.environ.get("SLACK_BOT_TOKEN", "")
SLACK_API_URL = os.environ.get("SLACK_API_URL", "https://slack.com/api")

# --- Review workflow (docs/review-workflow.md) ---------------------------------------------
# Publishing needs this many current approvals by named reviewers other than the author.
SEAMS_REQUIRED_APPROVALS = env_int("SEAMS_REQUIRED_APPROVALS", 1)
# An approval given on an older version than the current one no longer counts.
SEAMS_DISMISS_STALE_APPROVALS = os.environ.get("SEAMS_DISMISS_STALE_APPROVALS", "1") != "0"

# --- Background jobs -------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Celery still opens a (memory) connection to run an eager job; naming its host keeps kombu
# from warning "No hostname was supplied" on every job of the embedded mode.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
# Without a broker, jobs run in-process; `transaction.on_commit` still defers them until the
# review is committed, so the embedded mode behaves like the real one, only synchronously.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# A save must never hang on a dead broker: fail fast, and let the sweep catch up later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    # An unacknowledged job (worker killed mid-task) is handed out again after this long.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900),
}
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-analyses": {
        "task": "incidents.sweep_stale_analyses",
        "schedule": env_int("SEAMS_SWEEP_INTERVAL", 300),
        # A sweep that waited longer than its interval is superseded by the next one.
        "options": {"expires": env_int("SEAMS_SWEEP_INTERVAL", 300) - 10},
    },
}
# Reports whose job was lost are queued again on the same schedule as lost analyses.
CELERY_BEAT_SCHEDULE["sweep-stale-reports"] = {
    "task": "reports.sweep_stale_reports",
    "schedule": env_int("SEAMS_SWEEP_INTERVAL", 300),
    "options": {"expires": env_int("SEAMS_SWEEP_INTERVAL", 300) - 10},
}
# Idempotency keys are kept 24 hours (idempotency.keys.KEEP_FOR); forget older ones hourly.
CELERY_BEAT_SCHEDULE["forget-expired-idempotency-keys"] = {
    "task": "idempotency.forget_expired_keys",
    "schedule": 3600,
    "options": {"expires": 3000},
}
CELERY_BEAT_SCHEDULE["recompute-recurrences"] = {
    "task": "incidents.recompute_all",
    "schedule": crontab(hour=3, minute=17),  # nightly, off the hour
    "options": {"expires": 6 * 3600},
}
# Action-item reminders (docs/action-items.md): one when an item is due within
# SEAMS_REMINDER_DAYS_BEFORE days, one once it is overdue; each sent once, however often
# the sweep runs (every SEAMS_REMINDER_INTERVAL seconds).
SEAMS_REMINDER_DAYS_BEFORE = env_int("SEAMS_REMINDER_DAYS_BEFORE", 2)
SEAMS_REMINDER_INTERVAL = env_int("SEAMS_REMINDER_INTERVAL", 3600)
CELERY_BEAT_SCHEDULE["send-action-reminders"] = {
    "task": "actions.send_reminders",
    "schedule": SEAMS_REMINDER_INTERVAL,
    # A sweep that waited longer than its interval is superseded by the next one.
    "options": {"expires": max(SEAMS_REMINDER_INTERVAL - 60, 30)},
}
# Notifications whose e-mail job was lost are queued again on the same schedule.
CELERY_BEAT_SCHEDULE["sweep-unsent-notification-emails"] = {
    "task": "notifications.sweep_unsent_emails",
    "schedule": env_int("SEAMS_SWEEP_INTERVAL", 300),
    "options": {"expires": env_int("SEAMS_SWEEP_INTERVAL", 300) - 10},
}
# Chat answers whose job was lost are queued again while Slack still accepts them.
CELERY_BEAT_SCHEDULE["sweep-unanswered-chat-requests"] = {
    "task": "chat.sweep_unanswered",
    "schedule": 60,
    "options": {"expires": 50},
}
# Outgoing webhooks (docs/integrations/webhooks.md): retries with exponential backoff and
# full jitter up to a cap, a maximum of attempts, an hourly retry budget per endpoint, and
# switching off an endpoint that keeps failing. The sweep sends what is due and not queued.
SEAMS_WEBHOOK_RETRY_BASE_SECONDS = env_int("SEAMS_WEBHOOK_RETRY_BASE_SECONDS", 30)
SEAMS_WEBHOOK_RETRY_CAP_SECONDS = env_int("SEAMS_WEBHOOK_RETRY_CAP_SECONDS", 3600)
SEAMS_WEBHOOK_MAX_ATTEMPTS = env_int("SEAMS_WEBHOOK_MAX_ATTEMPTS", 10)
SEAMS_WEBHOOK_RETRY_BUDGET_PER_HOUR = env_int("SEAMS_WEBHOOK_RETRY_BUDGET_PER_HOUR", 60)
SEAMS_WEBHOOK_CONNECT_TIMEOUT_SECONDS = env_int("SEAMS_WEBHOOK_CONNECT_TIMEOUT_SECONDS", 3)
SEAMS_WEBHOOK_READ_TIMEOUT_SECONDS = env_int("SEAMS_WEBHOOK_READ_TIMEOUT_SECONDS", 10)
SEAMS_WEBHOOK_DISABLE_AFTER_FAILURES = env_int("SEAMS_WEBHOOK_DISABLE_AFTER_FAILURES", 20)
SEAMS_WEBHOOK_DISABLE_AFTER_HOURS = env_int("SEAMS_WEBHOOK_DISABLE_AFTER_HOURS", 24)
SEAMS_WEBHOOK_SWEEP_GRACE_SECONDS = env_int("SEAMS_WEBHOOK_SWEEP_GRACE_SECONDS", 30)
CELERY_BEAT_SCHEDULE["sweep-webhook-deliveries"] = {
    "task": "webhooks.sweep_deliveries",
    "schedule": env_int("SEAMS_WEBHOOK_SWEEP_INTERVAL", 60),
    "options": {"expires": max(env_int("SEAMS_WEBHOOK_SWEEP_INTERVAL", 60) - 5, 5)},
}
CELERY_BEAT_SCHEDULE["emit-periodic-webhook-events"] = {
    "task": "webhooks.emit_periodic_events",
    "schedule": SEAMS_REMINDER_INTERVAL,
    "options": {"expires": max(SEAMS_REMINDER_INTERVAL - 60, 30)},
}
# Tracker sync (docs/integrations/trackers.md): linked issues are polled every
# SEAMS_TRACKER_POLL_INTERVAL seconds; a link whose job was lost is queued again after
# SEAMS_TRACKER_GRACE_SECONDS by the sweep.
SEAMS_TRACKER_POLL_INTERVAL = env_int("SEAMS_TRACKER_POLL_INTERVAL", 600)
SEAMS_TRACKER_GRACE_SECONDS = env_int("SEAMS_TRACKER_GRACE_SECONDS", 600)
CELERY_BEAT_SCHEDULE["poll-trackers"] = {
    "task": "trackers.poll",
    "schedule": SEAMS_TRACKER_POLL_INTERVAL,
    "options": {"expires": max(SEAMS_TRACKER_POLL_INTERVAL - 30, 30)},
}
CELERY_BEAT_SCHEDULE["sweep-tracker-links"] = {
    "task": "trackers.sweep",
    "schedule": env_int("SEAMS_SWEEP_INTERVAL", 300),
    "options": {"expires": env_int("SEAMS_SWEEP_INTERVAL", 300) - 10},
}
# An analysis requested longer ago than this and not done is considered lost.
SEAMS_ANALYSIS_GRACE_SECONDS = env_int("SEAMS_ANALYSIS_GRACE_SECONDS", 120)

# Shared by every process when Redis is there (per-token rate limits must be global);
# per-process memory in the embedded mode. Nothing Seams keeps in the cache is needed to
# answer: with Redis down, reads miss and writes are dropped (fail open) after a short
# timeout, and a warning is logged once a minute (see LOGGING), instead of a 500 on every
# request.
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
            # No retries: a refused connection is answered at once, not after a backoff.
            "CONNECTION_POOL_KWARGS": {"retry": None},
        },
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "seams.cache"

# --- API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous request is answered 401 with `WWW-Authenticate: Token`.
        "incidents.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["incidents.api.permissions.TokenScopePermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "incidents.api.pagination.StablePageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "incidents.api.errors.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "incidents.api.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # JSON is the contract; `?format=` would let a query string pick another renderer.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_THROTTLE_CLASSES": ["incidents.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": os.environ.get("SEAMS_API_RATE", "1200/min")},
    "DEFAULT_RENDERER_CLASSES": [
        # orjson encodes a 50-incident list page (~240 KB) several times faster than the
        # standard library; the JSON is the same.
        "drf_orjson_renderer.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Seams API",
    "DESCRIPTION": (
        "Look up incidents, structural patterns and recurring structures; open draft reviews. "
        "Authenticate with `Authorization: Token <key>` (make one with "
        "`python manage.py create_api_token NAME --scope read|write`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from the installed package: the docs work without a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # JSON is the API's contract (the cookbook's and every bot's): form encodings cannot say
    # a list from a string or a number from text, so they are not offered in the schema.
    "PARSER_WHITELIST": ["incidents.api.parsers.DepthLimitedJSONParser"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "incidents.api.schema.document_uri_limit",
        "incidents.api.schema.document_strict_fields",
        "incidents.api.schema.document_request_guards",
        "incidents.api.schema.document_no_nul_in_request_bodies",
        "idempotency.schema.document_idempotency_key",
        "webhooks.schema.webhooks_as_extension",
    ],
    # The events Seams POSTs to webhook endpoints (webhooks.schema), one per event type.
    "WEBHOOKS": [
        "webhooks.schema.REVIEW_PUBLISHED",
        "webhooks.schema.REVIEW_REQUESTED",
        "webhooks.schema.STRUCTURE_RECURRED",
        "webhooks.schema.STRUCTURE_RECURRED_DESPITE_REMEDIATION",
        "webhooks.schema.STRUCTURE_RECOGNISED",
        "webhooks.schema.ACTION_ITEM_OVERDUE",
        "webhooks.schema.PING",
    ],
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "ActionItemStatusEnum": "incidents.models.ActionItem.Status",
        "ActionItemKindEnum": "incidents.models.ActionItem.Kind",
        "TimelineEventKindEnum": "incidents.models.TimelineEvent.Kind",
        "RecurringStructureKindEnum": ["pattern", "mechanism", "pair"],
        "IncidentSeverityEnum": "incidents.models.Incident.Severity",
        "ConfidenceEnum": ["strong", "possible", "weak"],
        "SimilarScopeEnum": ["anywhere", "organisation"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        # An outage logs once a minute (with a count of what was held back), not per request.
        "cache_failed_open": {"()": "config.log_filters.CacheFailedOpenFilter", "interval": 60},
        "once_a_minute": {"()": "config.log_filters.RateLimitFilter", "interval": 60},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "seams.cache": {"filters": ["cache_failed_open"]},
        "seams.throttle": {"filters": ["once_a_minute"]},
        # In the embedded mode every job runs in-process and would log "Task … succeeded"
        # on each save; failures are still logged (at WARNING and above).
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
        # Django's own console handler already says the dev server watches for changes.
        "django.utils.autoreload": {"level": "WARNING"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Login throttling (django-axes) ----------------------------------------------------
# After this many wrong passwords for one account, or from one address, further attempts
# (the right password included) are refused until the cool-off has passed; a successful
# login clears the account's count.
AXES_FAILURE_LIMIT = env_int("SEAMS_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SEAMS_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.lockout.locked_out"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# Behind N reverse proxies, the client is the N-th address from the right of
# X-Forwarded-For; with none, only the connection's address counts (a client cannot spoof a
# header to dodge the per-address limit).
SEAMS_PROXY_COUNT = env_int("SEAMS_PROXY_COUNT", 0)
AXES_IPWARE_PROXY_COUNT = SEAMS_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if SEAMS_PROXY_COUNT else ("REMOTE_ADDR",)
)

# --- People: invitations and single sign-on (docs/people.md) --------------------------
# An invitation link works once, for this many days.
SEAMS_INVITE_DAYS = env_int("SEAMS_INVITE_DAYS", 7)
SEAMS_ROLES = ("reader", "author", "reviewer", "admin")
# Single sign-on through OpenID Connect (mozilla-django-oidc), on only when a client id is
# set; the provider's endpoints are then required (a typo fails at start-up).
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
SEAMS_OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "single sign-on")
# The role of a person who signs in for the first time; with a groups claim, their teams
# follow it at every sign-in.
SEAMS_OIDC_DEFAULT_ROLE = os.environ.get("SEAMS_OIDC_DEFAULT_ROLE", "reader")
SEAMS_OIDC_GROUPS_CLAIM = os.environ.get("SEAMS_OIDC_GROUPS_CLAIM", "")
if SEAMS_OIDC_DEFAULT_ROLE not in SEAMS_ROLES:
    raise ImproperlyConfigured(
        f"SEAMS_OIDC_DEFAULT_ROLE must be one of {', '.join(SEAMS_ROLES)}, "
        f"not {SEAMS_OIDC_DEFAULT_ROLE!r}"
    )
if SEAMS_OIDC_ENABLED:
    _oidc_required = ("OIDC_RP_CLIENT_SECRET", "OIDC_OP_AUTHORIZATION_ENDPOINT",
                      "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT",
                      "OIDC_OP_JWKS_ENDPOINT")  # fmt: skip
    if _missing := [name for name in _oidc_required if not os.environ.get(name)]:
        raise ImproperlyConfigured(
            f"OIDC_RP_CLIENT_ID is set, so single sign-on also needs {', '.join(_missing)}"
        )
    OIDC_RP_CLIENT_SECRET = os.environ["OIDC_RP_CLIENT_SECRET"]
    OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ["OIDC_OP_AUTHORIZATION_ENDPOINT"]
    OIDC_OP_TOKEN_ENDPOINT = os.environ["OIDC_OP_TOKEN_ENDPOINT"]
    OIDC_OP_USER_ENDPOINT = os.environ["OIDC_OP_USER_ENDPOINT"]
    OIDC_OP_JWKS_ENDPOINT = os.environ["OIDC_OP_JWKS_ENDPOINT"]
    # When set, an ID token from any other issuer is refused.
    OIDC_OP_ISSUER = os.environ.get("OIDC_OP_ISSUER", "")
    OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO", "RS256")
    OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES", "openid email profile")
    OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
    OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10)
    OIDC_AUTHENTICATION_CALLBACK_URL = "people:sso_callback"
    LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"
    # After axes (a locked-out address is refused first) and the password backend.
    AUTHENTICATION_BACKENDS.append("people.oidc.SeamsOIDCBackend")

# --- Content-Security-Policy (django-csp 4) --------------------------------------------
# Scripts and styles come only from Seams' own static files: no inline script or style
# anywhere (the Swagger UI at /api/docs/ loads its initialiser as a file too). The one
# exception is the 500 page, which carries its own <style> because it must render when
# nothing else works: that exact block is allowed by its hash, and nothing else inline.


def inline_style_hashes(*templates: Path) -> list[str]:
    """CSP hash sources for the <style> blocks of self-contained pages (read at start-up)."""
    import base64
    import hashlib
    import re

    sources = []
    for template in templates:
        for block in re.findall(r"<style>(.*?)</style>", template.read_text(), re.S):
            digest = hashlib.sha256(block.encode()).digest()
            sources.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return sources


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", *inline_style_hashes(BASE_DIR / "templates" / "500.html")],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- HTTPS (behind a TLS-terminating proxy, which sets X-Forwarded-Proto) -----------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Probes (load balancer, orchestrator) call the health checks over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
