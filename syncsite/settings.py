"""Settings for the Notion → Clockify sync dashboard.

Everything comes from the environment (or a `.env` file beside manage.py);
`.env.example` lists every variable with a comment. A malformed value stops
start-up with a message naming the variable (see syncsite/envconfig.py). Any
variable NAME may be given as a file instead, NAME_FILE (Docker secrets).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from syncsite.envconfig import (
    bool_var,
    db_var,
    float_var,
    int_var,
    list_var,
    secret_list_var,
    secret_var,
    str_var,
    url_var,
)

BASE_DIR = Path(__file__).resolve().parent.parent
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------
DEBUG = bool_var("DEBUG", False)
SANDBOX = bool_var("SANDBOX", False)
_DEV_SECRET = "insecure-dev-key-only-for-the-sandbox-demo-and-tests"  # noqa: S105
SECRET_KEY = secret_var("SECRET_KEY", _DEV_SECRET if (DEBUG or SANDBOX) else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "Setting SECRET_KEY is required outside DEBUG/SANDBOX mode "
        "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
ALLOWED_HOSTS = list_var("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = list_var("CSRF_TRUSTED_ORIGINS", [])
TIME_ZONE = str_var("TIME_ZONE", "UTC")
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "syncapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from the app itself, before anything that would touch the session.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "syncsite.urls"
WSGI_APPLICATION = "syncsite.wsgi.application"
ASGI_APPLICATION = "syncsite.asgi.application"

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
                "syncapp.context_processors.review",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# SQLite by default so the demo needs nothing else; DATABASE_URL switches to PostgreSQL.
VAR_DIR = Path(str_var("VAR_DIR", str(BASE_DIR / "var")))
_default_db = db_var("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the django-q2 worker read while one writes;
    # IMMEDIATE transactions plus a busy timeout turn lock contention into waiting.
    _default_db.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        }
    )
    Path(_default_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
else:
    _default_db.setdefault("CONN_MAX_AGE", int_var("CONN_MAX_AGE", 60, minimum=0))
    _default_db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _default_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- django-q2 ----------------------------------------------------------------
# Read once at import (django-q2 does the same): change it by restarting the worker.
REDIS_URL = url_var("REDIS_URL", "", schemes=("redis", "rediss", "unix"))
SYNC_TASK_TIMEOUT = int_var("SYNC_TASK_TIMEOUT", 1800, minimum=60)
# A running sync beats every SYNC_HEARTBEAT_SECONDS; one silent for SYNC_DEAD_AFTER_SECONDS is
# dead (its process crashed or was killed): it is marked failed and the next trigger starts.
SYNC_HEARTBEAT_SECONDS = float_var("SYNC_HEARTBEAT_SECONDS", 5.0, minimum=0.1)
SYNC_DEAD_AFTER_SECONDS = float_var("SYNC_DEAD_AFTER_SECONDS", 30.0, minimum=0.3)
if SYNC_DEAD_AFTER_SECONDS < 3 * SYNC_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "Setting SYNC_DEAD_AFTER_SECONDS must be at least 3 x SYNC_HEARTBEAT_SECONDS "
        "(a run is dead only after it missed several heartbeats).")
Q_CLUSTER = {
    "name": "syncsite",
    "workers": int_var("Q_WORKERS", 2, minimum=1),
    "timeout": SYNC_TASK_TIMEOUT,
    # retry must exceed the longest timeout, or a slow task is handed out twice.
    "retry": SYNC_TASK_TIMEOUT + 300,
    "max_attempts": 1,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 500,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 1

# --- Notion and Clockify --------------------------------------------------------
SANDBOX_URL = url_var("SANDBOX_URL", "http://127.0.0.1:8765")
NOTION_TOKEN = secret_var("NOTION_TOKEN")
NOTION_API_URL = url_var("NOTION_API_URL", "https://api.notion.com")
NOTION_VERSION = str_var("NOTION_VERSION", "2025-09-03")
NOTION_CLIENTS_DATABASE_ID = str_var("NOTION_CLIENTS_DATABASE_ID")
NOTION_PROJECTS_DATABASE_ID = str_var("NOTION_PROJECTS_DATABASE_ID")
NOTION_TASKS_DATABASE_ID = str_var("NOTION_TASKS_DATABASE_ID")
# Notion allows about 3 requests/s on average; a little headroom avoids 429s, which cost at
# least a second each (Retry-After is in whole seconds).
NOTION_REQUESTS_PER_SECOND = float_var("NOTION_REQUESTS_PER_SECOND", 25.0 if SANDBOX else 2.9,
                                       minimum=0.01)
CLOCKIFY_API_KEY = secret_var("CLOCKIFY_API_KEY")
CLOCKIFY_API_URL = url_var("CLOCKIFY_API_URL", "https://api.clockify.me/api/v1")
CLOCKIFY_WORKSPACE_ID = str_var("CLOCKIFY_WORKSPACE_ID")
# Paid plans allow 50 requests/s; 5 leaves room for other integrations on the key.
# (The sandbox imposes no limit unless asked to, so the demo defaults to 25/s for both.)
CLOCKIFY_REQUESTS_PER_SECOND = float_var("CLOCKIFY_REQUESTS_PER_SECOND", 25.0 if SANDBOX else 5.0,
                                         minimum=0.001)
# A full sync asks Clockify's change feed what changed since the last complete state and
# reads only that (off: every full sync reads Clockify completely). The overlap re-asks a few
# minutes before that state (deletions show a minute late, clocks differ); past the horizon
# the feed is not trusted and the run reads everything.
CLOCKIFY_CHANGE_FEED = bool_var("CLOCKIFY_CHANGE_FEED", True)
CLOCKIFY_FEED_OVERLAP_SECONDS = int_var("CLOCKIFY_FEED_OVERLAP_SECONDS", 300, minimum=60)
CLOCKIFY_FEED_HORIZON_HOURS = int_var("CLOCKIFY_FEED_HORIZON_HOURS", 168, minimum=1)
# Requests an hour the whole Clockify workspace allows (new Free workspaces: 30). Empty: no
# hourly budget. Counted in the database across every process; a run that would exceed it
# waits and a follow-up continues when the budget is back.
CLOCKIFY_REQUESTS_PER_HOUR = int_var("CLOCKIFY_REQUESTS_PER_HOUR", None, minimum=1)
HTTP_TIMEOUT = float_var("HTTP_TIMEOUT", 30.0, minimum=1.0)
HTTP_MAX_RETRIES = int_var("HTTP_MAX_RETRIES", 4, minimum=0)

if SANDBOX:
    # The built-in emulators (python manage.py sandbox) fill the whole contract.
    from syncapp.sandbox import ids as _sandbox_ids

    NOTION_TOKEN = _sandbox_ids.NOTION_TOKEN
    NOTION_API_URL = f"{SANDBOX_URL}/notion"
    NOTION_CLIENTS_DATABASE_ID = _sandbox_ids.CLIENTS_DATABASE_ID
    NOTION_PROJECTS_DATABASE_ID = _sandbox_ids.PROJECTS_DATABASE_ID
    NOTION_TASKS_DATABASE_ID = _sandbox_ids.TASKS_DATABASE_ID
    CLOCKIFY_API_KEY = _sandbox_ids.CLOCKIFY_API_KEY
    CLOCKIFY_API_URL = f"{SANDBOX_URL}/clockify/api/v1"
    CLOCKIFY_WORKSPACE_ID = _sandbox_ids.CLOCKIFY_WORKSPACE_ID

# --- Dashboard, schedules and notifications ----------------------------------------------
# Time of day (HH:MM, TIME_ZONE) of the daily full sync when its schedule is first created
# (data migration); afterwards the schedule is edited in the admin (Task queue → Scheduled tasks).
DAILY_SYNC_TIME = str_var("DAILY_SYNC_TIME", "04:00")
if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", DAILY_SYNC_TIME):
    raise ImproperlyConfigured(
        "Setting DAILY_SYNC_TIME is malformed: expected a time of day such as 04:00.")
# /health/ answers 503 when the last completed run is older than this.
HEALTH_MAX_AGE_HOURS = float_var("HEALTH_MAX_AGE_HOURS", 26.0, minimum=0.1)
# The overview's connection check: per-request timeout, and how long a result is reused.
CONFIG_CHECK_TIMEOUT = float_var("CONFIG_CHECK_TIMEOUT", 3.0, minimum=0.5)
CONFIG_CHECK_CACHE_SECONDS = int_var("CONFIG_CHECK_CACHE_SECONDS", 300, minimum=0)
# Public address of the dashboard, for links in notifications (e.g. https://sync.example.com).
DASHBOARD_URL = url_var("DASHBOARD_URL", "")
# Failed or held runs are reported to these addresses and/or POSTed to the webhook as JSON.
NOTIFY_EMAILS = list_var("NOTIFY_EMAILS", [])
for _address in NOTIFY_EMAILS:
    if not re.fullmatch(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+", _address):
        raise ImproperlyConfigured(
            "Setting NOTIFY_EMAILS is malformed: expected comma-separated e-mail addresses.")
NOTIFY_WEBHOOK_URL = url_var("NOTIFY_WEBHOOK_URL", "")
# Outgoing mail: smtp+tls://user:password@host:587, smtps://…:465, or consolemail:// .
_email_url = str_var("EMAIL_URL", "")
if _email_url:
    try:
        _email_config = environ.Env.email_url_config(_email_url)
    except Exception:  # never echo the value: it holds the SMTP password
        raise ImproperlyConfigured(
            "Setting EMAIL_URL is malformed: expected a URL such as "
            "smtp+tls://user:password@mail.example.com:587 or consolemail://.") from None
    globals().update({k: v for k, v in _email_config.items() if v is not None})
DEFAULT_FROM_EMAIL = str_var("DEFAULT_FROM_EMAIL", "notion-clockify-sync@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = 10

# --- Webhooks, rollup and Salesforce ------------------------------------------------
# Secrets accepted at /hooks/...; comma lists, so a new secret can be added before the old
# one is removed (rotation without downtime). An empty list refuses every delivery. Compared
# exactly: no spaces after the commas (`manage.py check` warns about whitespace, W004).
CLOCKIFY_WEBHOOK_TOKENS = secret_list_var("CLOCKIFY_WEBHOOK_TOKENS")
NOTION_TRIGGER_TOKENS = secret_list_var("NOTION_TRIGGER_TOKENS")
# Takes precedence over the verification token stored from Notion's handshake.
NOTION_WEBHOOK_SECRET = secret_list_var("NOTION_WEBHOOK_SECRET")
# Number property that receives tracked hours per task and project; empty disables.
NOTION_TRACKED_PROPERTY = str_var("NOTION_TRACKED_PROPERTY", "Tracked (h)")
# Optional: forward completed time entries to Salesforce as Events.
SALESFORCE_INSTANCE_URL = url_var("SALESFORCE_INSTANCE_URL", "")
SALESFORCE_ACCESS_TOKEN = secret_var("SALESFORCE_ACCESS_TOKEN")
SALESFORCE_CLIENT_ID = secret_var("SALESFORCE_CLIENT_ID")
SALESFORCE_CLIENT_SECRET = secret_var("SALESFORCE_CLIENT_SECRET")
SALESFORCE_API_VERSION = str_var("SALESFORCE_API_VERSION", "v60.0")
if not re.fullmatch(r"v?\d{2,3}\.0", SALESFORCE_API_VERSION):
    raise ImproperlyConfigured(
        "Setting SALESFORCE_API_VERSION is malformed: expected a version such as v60.0.")
SALESFORCE_API_VERSION = "v" + SALESFORCE_API_VERSION.lstrip("v")
if SANDBOX:
    from syncapp.sandbox import salesforce as _sandbox_salesforce

    SALESFORCE_INSTANCE_URL = f"{SANDBOX_URL}/salesforce"
    SALESFORCE_ACCESS_TOKEN = _sandbox_salesforce.ACCESS_TOKEN
    SALESFORCE_CLIENT_ID = _sandbox_salesforce.CLIENT_ID
    SALESFORCE_CLIENT_SECRET = _sandbox_salesforce.CLIENT_SECRET

# --- Metrics ------------------------------------------------------------------------
# Bearer tokens accepted at /metrics (comma list, for rotation); staff sessions always are.
METRICS_TOKENS = secret_list_var("METRICS_TOKENS")

# --- Retention ------------------------------------------------------------------------
# Poll runs that changed nothing are deleted after this many days (the audit trail of runs
# that did something is kept); handled webhook deliveries after WEBHOOK_RETENTION_DAYS.
IDLE_POLL_RETENTION_DAYS = int_var("IDLE_POLL_RETENTION_DAYS", 2, minimum=1)
WEBHOOK_RETENTION_DAYS = int_var("WEBHOOK_RETENTION_DAYS", 30, minimum=1)
# Refused (401, 413, 429) and invalid (400) deliveries kept per source, newest first: a flood
# cannot outgrow the retention between prunes; the admin counts what was dropped.
WEBHOOK_REFUSED_KEPT = int_var("WEBHOOK_REFUSED_KEPT", 1000, minimum=10)

# --- Auth, static, security ---------------------------------------------------------
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
STATIC_URL = "static/"
STATIC_ROOT = Path(str_var("STATIC_ROOT", str(VAR_DIR / "static")))
# Production serves collectstatic's output compressed, under content-hashed names cached for
# a year. DEBUG and the sandbox (demo, tests) serve the source files as they are, so they
# need no collectstatic.
STATIC_MANIFEST = bool_var("STATIC_MANIFEST", not DEBUG and not SANDBOX)
# whitenoise warns on every start while the folder is missing; a read-only deployment has
# run collectstatic at build time.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
                    if STATIC_MANIFEST else
                    "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

SECURE_SSL_REDIRECT = bool_var("SECURE_SSL_REDIRECT", not DEBUG and not SANDBOX)
SESSION_COOKIE_SECURE = bool_var("SECURE_COOKIES", not DEBUG and not SANDBOX)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = int_var("SECURE_HSTS_SECONDS", 0 if (DEBUG or SANDBOX) else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = bool_var("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = bool_var("SECURE_HSTS_PRELOAD", not DEBUG and not SANDBOX)
if bool_var("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Logging ----------------------------------------------------------------------
# LOG_FORMAT=json: one JSON object a line (log shippers); plain: readable lines. Both carry
# the id of the run a line belongs to (syncapp/logcontext.py).
LOG_FORMAT = str_var("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("Setting LOG_FORMAT is malformed: expected plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"run_id": {"()": "syncapp.logcontext.RunIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s run=%(run_id)s %(message)s"},
        "json": {"()": "syncapp.logcontext.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT,
                             "filters": ["run_id"]}},
    "root": {"handlers": ["console"], "level": str_var("LOG_LEVEL", "INFO")},
    "loggers": {"urllib3": {"level": "WARNING"}},
}
