"""Django settings for options-helper.

Everything comes from the environment (a ``.env`` file is read when present). The embedded default is a
SQLite metadata DB plus a DuckDB warehouse under ``OPTIONS_HELPER_DATA_DIR``; ``DATABASE_URL`` switches the
metadata DB to PostgreSQL and ``REDIS_URL`` the django-q2 broker to Redis. DEBUG is on only when
``DJANGO_DEBUG=1``; without DEBUG a missing ``DJANGO_SECRET_KEY`` stops start-up with one line.
``OPTIONS_HELPER_ENV_FILE`` names another env file than ``.env`` (a missing file is ignored).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import sys
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(os.environ.get("OPTIONS_HELPER_ENV_FILE") or BASE_DIR / ".env")


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_number(name: str, default: float, *, low: float, high: float, kind: type = float):
    """A numeric setting within [low, high]; a bad value is one line naming the variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return kind(default)
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not (low <= value <= high) or value != value:
        raise ImproperlyConfigured(f"{name} must be between {low} and {high}, got {raw!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # One line and exit 2 like every other bad setting, not a traceback (also under gunicorn).
        sys.stderr.write(
            "configuration error: DJANGO_SECRET_KEY is not set: put a long random value in the "
            "environment or .env (scripts/demo writes a local .env with DJANGO_DEBUG=1 and a "
            "generated key)\n"
        )
        sys.exit(2)
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# --- Product paths and defaults (SPEC §1.3) -------------------------------------------------------
DATA_DIR = Path(os.environ.get("OPTIONS_HELPER_DATA_DIR") or BASE_DIR / "data").resolve()
# The warehouse: unset or a file path = the embedded DuckDB file (default); a URL starting with
# ``ducklake:`` (e.g. ``ducklake:postgres:dbname=oh_lake host=db user=oh``) = a DuckLake warehouse
# whose Parquet data files live under OPTIONS_HELPER_LAKE_DATA_PATH (a directory or object-store URL).
WAREHOUSE_URL = os.environ.get("OPTIONS_HELPER_WAREHOUSE_URL", "").strip()
if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", WAREHOUSE_URL):
    raise ImproperlyConfigured(
        "OPTIONS_HELPER_WAREHOUSE_URL must be a DuckDB file path or ducklake:<catalog>, "
        f"not a {WAREHOUSE_URL.split(':', 1)[0]}:// URL"
    )
_warehouse_file = "" if WAREHOUSE_URL.startswith("ducklake:") else WAREHOUSE_URL
WAREHOUSE_PATH = Path(
    _warehouse_file
    or os.environ.get("OPTIONS_HELPER_DUCKDB_PATH")
    or DATA_DIR / "warehouse" / "options.duckdb"
).resolve()
LAKE_DATA_PATH = os.environ.get("OPTIONS_HELPER_LAKE_DATA_PATH") or str(DATA_DIR / "lake")
# Snapshots older than this are expired by the housekeeping task (lake mode only).
LAKE_SNAPSHOT_RETENTION_DAYS = env_number(
    "OPTIONS_HELPER_LAKE_SNAPSHOT_DAYS", 7, low=0, high=3650, kind=int
)
REPORTS_DIR = DATA_DIR / "reports"
DEFAULT_PROVIDER = os.environ.get("OPTIONS_HELPER_PROVIDER", "demo")
MARKET_TIME_ZONE = os.environ.get("OPTIONS_HELPER_TIMEZONE", "America/New_York")
HEALTH_TOKEN = os.environ.get("OPTIONS_HELPER_HEALTH_TOKEN", "")
FILES_PROVIDER_DIR = os.environ.get("OPTIONS_HELPER_FILES_DIR", "")

# How long a reader waits for the warehouse writer before giving up with "warehouse busy".
WAREHOUSE_READ_TIMEOUT_S = env_number(
    "OPTIONS_HELPER_WAREHOUSE_READ_TIMEOUT", 10, low=0, high=3600
)
# How long a writer waits for the cross-process writer lock.
WAREHOUSE_WRITE_TIMEOUT_S = env_number(
    "OPTIONS_HELPER_WAREHOUSE_WRITE_TIMEOUT", 120, low=0, high=86400
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_q",
    "axes",
    "apps.ledger",
    "apps.market",
    "apps.analytics",
    "apps.portfolio",
    "apps.pipeline",
    "apps.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "optionshelper.urls"
WSGI_APPLICATION = "optionshelper.wsgi.application"
ASGI_APPLICATION = "optionshelper.asgi.application"

# django-tables2 is configured here rather than installed: its package imports
# django.contrib.postgres (and with it psycopg) when imported, which every command would pay at
# start-up; the portal uses only its templates and template tags, imported when a page renders.
_TABLES2_DIR = Path(importlib.util.find_spec("django_tables2").submodule_search_locations[0])
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", _TABLES2_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "libraries": {"django_tables2": "django_tables2.templatetags.django_tables2"},
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases -----------------------------------------------------------------------------------
_TEST_DIR = Path(tempfile.gettempdir())
DEFAULT_SQLITE_URL = f"sqlite:///{DATA_DIR / 'optionshelper.sqlite3'}"
DATABASE_URL = os.environ.get("DATABASE_URL") or DEFAULT_SQLITE_URL
try:
    _default_db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
except (ValueError, KeyError) as _exc:
    raise ImproperlyConfigured(
        f"DATABASE_URL is not a database URL this product understands ({str(_exc).split('.')[0]}); "
        "use postgres://user@host:5432/name or sqlite:///path"
    ) from None
if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers and one writer work at once; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue on the busy timeout instead of failing with "database is locked" mid-transaction.
    _default_db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
        ),
    }
    # A file (not :memory:) so the multi-process tests can share it; per pytest process.
    _default_db["TEST"] = {"NAME": str(_TEST_DIR / f"test-metadata-{os.getpid()}.sqlite3")}
else:
    _default_db["CONN_HEALTH_CHECKS"] = True

DATABASES = {
    "default": _default_db,
    "warehouse": {
        "ENGINE": "optionshelper.duckdb_backend",
        "NAME": str(WAREHOUSE_PATH),
        "TEST": {"NAME": str(_TEST_DIR / f"test-warehouse-{os.getpid()}.duckdb")},
    },
}
DATABASE_ROUTERS = ["optionshelper.routers.WarehouseRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ----------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from one
# client IP, that pair is locked out (HTTP 429) for the cool-off; attempts and lock-outs are listed in
# the admin ("Axes"). A successful login resets the count. Behind a reverse proxy set
# OPTIONS_HELPER_PROXY_COUNT to the number of proxies so the client IP comes from X-Forwarded-For.
AUTHENTICATION_BACKENDS = [
    "optionshelper.auth.ThrottledLoginBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_number("OPTIONS_HELPER_LOGIN_FAILURES", 5, low=1, high=1000, kind=int)
AXES_COOLOFF_TIME = dt.timedelta(
    minutes=env_number("OPTIONS_HELPER_LOGIN_COOLOFF_MINUTES", 15, low=1, high=7 * 24 * 60, kind=int)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
PROXY_COUNT = env_number("OPTIONS_HELPER_PROXY_COUNT", 0, low=0, high=10, kind=int)
AXES_CLIENT_IP_CALLABLE = "optionshelper.auth.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"  # the 429 page, in the portal's layout

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Cache (shared so django-q2's qinfo/qmonitor see every cluster) ---------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# ``pages`` holds page view models keyed by the data generation (optionshelper/generation.py): never
# stale because the generation is in the key. Redis (shared by every worker and host) when REDIS_URL is
# set, else files under DATA_DIR/cache/pages (shared by the host's processes); the generation counter
# itself is always shared.
# PAGE_CACHE_TIMEOUT only lets entries of past generations be evicted; it cannot serve old data.
PAGE_CACHE_TIMEOUT = env_number(
    "OPTIONS_HELPER_PAGE_CACHE_TIMEOUT", 600, low=1, high=30 * 86400, kind=int
)
if REDIS_URL and importlib.util.find_spec("redis") is None:
    raise ImproperlyConfigured(
        "REDIS_URL is set but the redis package is not installed: pip install -e '.[redis]'"
    )
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
        "pages": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "pages",
        },
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "optionshelper_cache",
        },
        # Files beside the data: every web worker and command of the host shares the page cache.
        "pages": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache" / "pages"),
            "OPTIONS": {"MAX_ENTRIES": 1000},
        },
    }

# --- django-q2 (SPEC §10) ------------------------------------------------------------------------
# A task may run as long as the whole daily pipeline (the registry's run_daily timeout is ~4 h).
JOB_TIMEOUT_S = env_number("OPTIONS_HELPER_JOB_TIMEOUT", 14400, low=60, high=7 * 86400, kind=int)
# Cron schedules are evaluated in this zone (django-q2 reads Q_CLUSTER["time_zone"], else TIME_ZONE,
# which is UTC here), so "18:30 on weekdays" means 18:30 market time across DST changes.
SCHEDULE_TIME_ZONE = os.environ.get("OPTIONS_HELPER_SCHEDULE_TZ") or MARKET_TIME_ZONE
DAILY_AT = os.environ.get("OPTIONS_HELPER_DAILY_AT", "18:30")  # HH:MM, weekdays, market time
HOUSEKEEPING_CRON = os.environ.get("OPTIONS_HELPER_HOUSEKEEPING_CRON", "15 * * * *")
RETENTION_RUNS_DAYS = env_number(
    "OPTIONS_HELPER_RETENTION_RUNS_DAYS", 90, low=1, high=36500, kind=int
)
RETENTION_CHECKS_DAYS = env_number(
    "OPTIONS_HELPER_RETENTION_CHECKS_DAYS", 30, low=1, high=36500, kind=int
)
# Persisted flow partitions older than this (by to_date) are pruned; flow is recomputable.
FLOW_RETENTION_DAYS = env_number(
    "OPTIONS_HELPER_FLOW_RETENTION_DAYS", 365, low=1, high=36500, kind=int
)
Q_CLUSTER = {
    # Also the signing prefix; django-q2's Q_CLUSTER_NAME env var names a separate queue if needed.
    "name": "optionshelper",
    "workers": env_number("Q_WORKERS", 2, low=1, high=64, kind=int),
    "timeout": JOB_TIMEOUT_S,
    # retry must exceed timeout, or a long job would be handed to a second worker while still running.
    "retry": JOB_TIMEOUT_S + 1800,
    # A task that finished (even failed or timed out) is acknowledged after one attempt and never
    # retried: a failed run is re-run on purpose (admin action, backfill), not by the broker. Only a
    # task whose whole cluster died is re-delivered (ORM broker, after `retry`); the JobLease then
    # finds the dead holder and the ledger shows its run abandoned.
    "max_attempts": 1,
    "ack_failures": True,
    # Missed daily runs are not replayed at start-up; use `run_daily --from --to` to backfill.
    "catch_up": False,
    "time_zone": SCHEDULE_TIME_ZONE,
    "save_limit": 1000,
    "cache": "default",  # shared by every cluster, so qinfo/qmonitor see them all
    "label": "Background tasks",
    # Present (even empty) so that django-q2's Q_CLUSTER_NAME env var can name an extra queue.
    "ALT_CLUSTERS": {},
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Security (production values when DEBUG is off) ----------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_number(
        "DJANGO_HSTS_SECONDS", 31536000, low=0, high=10 * 31536000, kind=int
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)

_LOG_LEVEL = os.environ.get("OPTIONS_HELPER_LOG_LEVEL", "").strip().upper()
if _LOG_LEVEL and _LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        "OPTIONS_HELPER_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL"
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Log lines (tracebacks included) mask secret values the way the ledger's error fields do.
    "formatters": {
        "plain": {
            "()": "apps.ledger.services.errors.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "runserver": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "runserver": {"class": "logging.StreamHandler", "formatter": "runserver"},
    },
    "root": {"handlers": ["console"], "level": _LOG_LEVEL or "WARNING"},
    # Job progress (per symbol, counts, elapsed) and Django's records are INFO by default;
    # OPTIONS_HELPER_LOG_LEVEL (DEBUG/INFO/WARNING/ERROR) sets every logger here (a propagated
    # record skips its ancestors' levels, so each one is set); a job's --quiet turns progress off.
    "loggers": {
        "optionshelper.jobs": {"level": _LOG_LEVEL or "INFO"},
        # Django's own records go through the redacting root handler only (its default console
        # handler printed them a second time, unredacted, under DEBUG) ...
        "django": {"handlers": [], "level": _LOG_LEVEL or "INFO", "propagate": True},
        # ... but for runserver's request lines, which keep Django's own format.
        "django.server": {
            "handlers": ["runserver"],
            "level": _LOG_LEVEL or "INFO",
            "propagate": False,
        },
    },
}
