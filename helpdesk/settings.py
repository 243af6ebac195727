"""Settings, from environment variables only.

With nothing set the helpdesk runs on the embedded default: SQLite, an in-memory channel layer, a
Celery worker inside the server process on an in-memory broker, and email written to the console.
`DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and Redis. With `DEBUG=0` (production) it
refuses to start without `SECRET_KEY` and `ALLOWED_HOSTS`. Every variable is listed in README.md.
"""

import os
import warnings
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, not {value!r}.")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if not DEBUG:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (production mode).")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off (production mode).")
else:
    SECRET_KEY = SECRET_KEY or "insecure-embedded-default-key-do-not-use-in-production"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]", "testserver"]

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The public address of this helpdesk, used in links that leave it (emails, the widget snippet).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "django_filters",
    "helpdesk",
    "visitors",
    "conversations",
    "channels_fb",
    "channels_email",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
ASGI_APPLICATION = "helpdesk.asgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
# Threads that run the websockets' database work in one process (helpdesk.asyncdb), each with a pooled
# connection while it works: sockets wait for a free one, so this bounds their connections. Few: they
# share the process's interpreter lock with its event loop, and every round trip a thread makes ends in
# a wait for the lock; with 8, a process under load spent more CPU per message and kept up with less
# (README, "Benchmarks").
DATABASE_THREADS = env_int("DATABASE_THREADS", 4)
# Threads that serve HTTP requests in one process (helpdesk.http_threads): requests wait for a free one,
# so this bounds the connections HTTP uses.
HTTP_THREADS = env_int("HTTP_THREADS", 10)
# Besides those: a dashboard socket's login is looked up on asgiref's own thread, and the embedded
# Celery worker (without Redis) runs two; one more to spare.
CONNECTIONS_BESIDE_THREADS = 4
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_health_checks=True, engine="helpdesk.postgresql")}
    # A request, and a websocket's database call, each takes a connection from a pool the process shares
    # and gives it back (Django closes a request's connection at its end): none connects again (10 ms
    # and more), and the pool bounds how many the process opens.
    # The pool checks each connection as it leaves, so a database restart costs reconnections, not
    # failed requests and lost messages; the check asks the server only when the socket has something
    # to read (helpdesk/postgresql).
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": 2,
            "max_size": env_int("DATABASE_POOL_SIZE", DATABASE_THREADS + HTTP_THREADS + CONNECTIONS_BESIDE_THREADS),
            "timeout": 30,
        },
        # What the chat path runs (helpdesk.rows.preparing_cursor) is prepared on its fifth run on a
        # connection (psycopg's default; Django's is never). Behind PgBouncer in transaction mode that
        # needs PgBouncer 1.21 or newer with max_prepared_statements set.
        "prepare_threshold": 5,
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Several writers (server, embedded worker) share the file: wait instead of failing.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer, cache and Celery broker: Redis when REDIS_URL is set --------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "helpdesk.channel_layer.ReliableRedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "helpdesk"},
        }
    }
    CACHES = {"default": {"BACKEND": "helpdesk.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Without a broker of its own the server process runs the worker (and beat) in threads.
CELERY_EMBEDDED_WORKER = env_bool("CELERY_EMBEDDED_WORKER", not REDIS_URL)
CELERY_BEAT_SCHEDULE: dict = {}
# The daily purges run at a time of day, not every 24 hours: beat counts an interval from its own
# start, so a server restarted more often than daily would never purge (the embedded beat keeps no
# record of its last runs).
DAILY_AT_NIGHT = crontab(hour=3, minute=30)

# --- Email -------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "helpdesk@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Accounts ----------------------------------------------------------------------------------
AUTH_USER_MODEL = "helpdesk.Agent"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# An agent counts as online while their dashboard keeps sending heartbeats within this many seconds.
AGENT_PRESENCE_TTL = env_int("AGENT_PRESENCE_TTL", 90)
# The record of when each agent was online (`AgentOnlineSpan`) is kept this many days, then deleted.
# Notifications read it to decide, when a visitor leaves, who was online when they wrote.
AGENT_ONLINE_SPANS_KEEP_DAYS = env_int("AGENT_ONLINE_SPANS_KEEP_DAYS", 30)
if AGENT_ONLINE_SPANS_KEEP_DAYS < 1:
    raise ImproperlyConfigured("AGENT_ONLINE_SPANS_KEEP_DAYS must be 1 or more: the spans of today are in use.")
CELERY_BEAT_SCHEDULE["helpdesk-purge-online-spans"] = {
    "task": "helpdesk.tasks.purge_online_spans",
    "schedule": DAILY_AT_NIGHT,
}

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("hu", "Magyar")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files -----------------------------------------------------------------
STATIC_URL = "static/"
# In development static files come from the apps; only production runs collectstatic into STATIC_ROOT.
warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security in production --------------------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Live chat ---------------------------------------------------------------------------------
# A visitor is "online" while one of their chat boxes sent a heartbeat within this many seconds.
VISITOR_PRESENCE_TTL = env_int("VISITOR_PRESENCE_TTL", 60)
# No page view, message or typing for this long: the visitor is idle.
VISITOR_IDLE_AFTER = env_int("VISITOR_IDLE_AFTER", 600)
# All chat boxes closed and none back within this long: the visitor left the website (moving
# from page to page is not leaving).
VISITOR_LEFT_GRACE = env_int("VISITOR_LEFT_GRACE", 60)
# How many messages a visitor may send in a burst, and how many a second after that.
CHAT_RATE_BURST = env_int("CHAT_RATE_BURST", 8)
CHAT_RATE_PER_SECOND = float(os.environ.get("CHAT_RATE_PER_SECOND", "1"))
# Behind a reverse proxy: the header it puts the visitor's address in (e.g. X-Forwarded-For).
# Unset, the address of the connecting peer is used and such headers are ignored.
TRUSTED_PROXY_HEADER = os.environ.get("TRUSTED_PROXY_HEADER", "")
# A MaxMind GeoLite2/GeoIP2 City database file: visitors' cities. Countries need no file.
GEOIP_PATH = os.environ.get("GEOIP_PATH", "")
CELERY_BEAT_SCHEDULE["visitors-settle-departures"] = {
    "task": "visitors.tasks.settle_departures",
    "schedule": 30.0,
}
CELERY_BEAT_SCHEDULE["visitors-purge-recordings"] = {
    "task": "visitors.tasks.purge_recordings",
    "schedule": DAILY_AT_NIGHT,
}

# --- Email channel -------------------------------------------------------------------------------
# Visitors' replies go to reply+TOKEN@EMAIL_INBOUND_DOMAIN: point that domain's MX (or a forward) at
# the ESP's inbound route or at `manage.py run_email_receiver`.
EMAIL_INBOUND_DOMAIN = os.environ.get("EMAIL_INBOUND_DOMAIN", "localhost")
EMAIL_ATTACHMENT_MAX_BYTES = env_int("EMAIL_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
# The ESP whose anymail inbound webhook is served at /anymail/<esp>/inbound/ ("postmark", "mailgun",
# "sendgrid", "amazon_ses", ...); empty serves none.
EMAIL_INBOUND_ESP = os.environ.get("EMAIL_INBOUND_ESP", "")
# Every ANYMAIL_<NAME> variable becomes ANYMAIL["<NAME>"] (WEBHOOK_SECRET, MAILGUN_WEBHOOK_SIGNING_KEY,
# POSTMARK_SERVER_TOKEN for an anymail EMAIL_BACKEND, ...).
ANYMAIL = {name.removeprefix("ANYMAIL_"): value for name, value in os.environ.items() if name.startswith("ANYMAIL_")}
if EMAIL_INBOUND_ESP and not DEBUG and not ANYMAIL.get("WEBHOOK_SECRET"):
    raise ImproperlyConfigured("ANYMAIL_WEBHOOK_SECRET must be set when EMAIL_INBOUND_ESP is (production mode).")
# --- Facebook Messenger ------------------------------------------------------------------------
# The Graph API's address with its version; tests (and a staging setup) point it at a stand-in server.
FACEBOOK_GRAPH_URL = os.environ.get("FACEBOOK_GRAPH_URL", "https://graph.facebook.com/v26.0")
FACEBOOK_GRAPH_TIMEOUT = env_int("FACEBOOK_GRAPH_TIMEOUT", 10)
# A reply Facebook cannot take yet (rate limit, temporary error) is tried again this many times,
# after FACEBOOK_RETRY_BACKOFF seconds, doubled each time.
FACEBOOK_SEND_MAX_RETRIES = env_int("FACEBOOK_SEND_MAX_RETRIES", 5)
FACEBOOK_RETRY_BACKOFF = env_int("FACEBOOK_RETRY_BACKOFF", 30)
# Processed webhook deliveries are kept this many days (failed ones until the owner deletes them).
FACEBOOK_WEBHOOK_KEEP_DAYS = env_int("FACEBOOK_WEBHOOK_KEEP_DAYS", 30)
CELERY_BEAT_SCHEDULE["channels_fb.purge_webhook_deliveries"] = {
    "task": "channels_fb.tasks.purge_webhook_deliveries",
    "schedule": DAILY_AT_NIGHT,
}
# --- REST API and outbound webhooks ------------------------------------------------------------
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
# Requests each API key (or each agent's dashboard session) may make, e.g. "600/min", "20/s".
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "helpdesk.rest.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["helpdesk.rest.IsAgentWithWritableKey"],
    "DEFAULT_THROTTLE_CLASSES": ["helpdesk.rest.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "helpdesk.rest.NewestFirstPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "helpdesk.api_errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": "Conversations, visitors and search for integrators. Authenticate with "
    "`Authorization: Bearer <API key>` (keys are created by the owner in the admin).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999}},
    "ENUM_NAME_OVERRIDES": {
        "ConversationStatusEnum": "conversations.models.Conversation.Status",
        "AgentStatusEnum": "helpdesk.models.Agent.Status",
    },
}
# Outbound webhooks: how long one delivery attempt may take, and how many attempts before giving up.
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 10)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)

# --- Chat box (widget) -------------------------------------------------------------------------
# Serve the demo website with the chat box embedded at /demo/ (on by default in development only).
WIDGET_DEMO = env_bool("WIDGET_DEMO", DEBUG)

# --- Agent dashboard ---
# htmx, vendored by django-htmx: `request.htmx` tells partial requests from page loads.
INSTALLED_APPS += ["django_htmx"]
MIDDLEWARE += ["django_htmx.middleware.HtmxMiddleware"]
# After the session's user is known, and after LocaleMiddleware, whose choice it overrides.
MIDDLEWARE += ["helpdesk.middleware.AgentLanguageMiddleware"]
# How many conversations a list page shows before loading more on scroll.
DASHBOARD_PAGE_SIZE = env_int("DASHBOARD_PAGE_SIZE", 50)

# --- Agent notifications -------------------------------------------------------------------------
# An offline message is emailed this many seconds after the visitor's first message, so several
# messages in a row make one email.
NOTIFICATION_OFFLINE_DELAY = env_int("NOTIFICATION_OFFLINE_DELAY", 30)
# How often the sweep sends notifications whose delayed check was lost (a worker restarted).
NOTIFICATION_SWEEP_SECONDS = env_int("NOTIFICATION_SWEEP_SECONDS", 60)
CELERY_BEAT_SCHEDULE["notifications-settle"] = {
    "task": "notifications.tasks.settle_notifications",
    "schedule": float(NOTIFICATION_SWEEP_SECONDS),
}
