"""Settings of HeyGem Studio, read from the environment.

Defaults are safe for one machine: SQLite and a generated secret key under ``var/``, DEBUG off,
hosts limited to this machine. ``DJANGO_ENV=production`` (or ``HEYGEM_MODE=production``) turns
on the HTTPS-only protections so that ``manage.py check --deploy`` is clean.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from heygem_site import local_redis

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HEYGEM_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        # Written aside, then linked into place: processes starting together all end up
        # with the same, complete key.
        fd, tmp = tempfile.mkstemp(dir=VAR_DIR, prefix=".secret_key.")
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(64))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


MODE = (os.environ.get("DJANGO_ENV") or os.environ.get("HEYGEM_MODE") or "local").lower()
PRODUCTION = MODE == "production"
TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")

SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)

_default_hosts = ["localhost", "127.0.0.1", "[::1]"]
try:
    _hostname = socket.gethostname()
except OSError:
    _hostname = ""
if _hostname:
    # Not getfqdn(): it may wait on DNS, and settings are imported by every process.
    _default_hosts.append(_hostname)
if TESTING:
    _default_hosts.append("testserver")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", _default_hosts)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_rq",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "studio",
    "rendering",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The language a logged-in person chose on their profile wins over the browser's.
    "studio.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "heygem_site.security_headers.StudioCSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # Last, as axes wants: it turns a refused login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "heygem_site.urls"
WSGI_APPLICATION = "heygem_site.wsgi.application"
ASGI_APPLICATION = "heygem_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "studio.context_processors.teams",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # IMMEDIATE: a transaction that reads and then writes (upload completion) while a worker
    # writes would otherwise fail at once with "database is locked" instead of waiting.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    )
    # A file, not :memory:, so worker subprocesses started by tests can open it (they get its
    # path through DATABASE_URL); one per test process so parallel runs do not collide.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get(
            "HEYGEM_TEST_DB",
            os.path.join(tempfile.gettempdir(), f"heygem-test-{os.getpid()}.sqlite3"),
        )
    }
else:
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("HEYGEM_TEST_DB", f"test_{DATABASES['default']['NAME']}")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing cost is not what the tests check; the real hasher costs ~0.3 s per user.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"

# --- Login throttling (django-axes; studio/login_throttle.py) ----------------------------
#: Failed logins for one user name, or from one address, before its logins are refused
#: (0 turns throttling off).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
#: How long a lock-out lasts after the last attempt (minutes).
LOGIN_LOCKOUT_MINUTES = env_float("LOGIN_LOCKOUT_MINUTES", 15.0)
AUTHENTICATION_BACKENDS = [
    "studio.login_throttle.ThrottledLoginBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = LOGIN_FAILURE_LIMIT > 0
AXES_FAILURE_LIMIT = max(1, LOGIN_FAILURE_LIMIT)
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
# Each on its own: an account is locked whatever the address, an address whatever the account.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "studio.login_throttle.lockout_response"
# The same peer address the audit log records (X-Forwarded-For only through daphne's
# --proxy-headers behind a proxy).
AXES_CLIENT_IP_CALLABLE = "studio.actor.client_ip"
AXES_HTTP_RESPONSE_CODE = 429
# Successful logins are in the audit log already.
AXES_DISABLE_ACCESS_LOG = True
# A success does not clear the count: an attacker with an account of their own could
# otherwise reset their address's failures between guesses.
AXES_RESET_ON_SUCCESS = False
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Languages ----------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Uploads ------------------------------------------------------------------------------
#: Largest presenter or audio file accepted (bytes), default 2 GiB.
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 2 * 1024**3)
#: Size of one chunk of the resumable upload protocol (bytes).
UPLOAD_CHUNK_BYTES = env_int("UPLOAD_CHUNK_BYTES", 8 * 1024**2)
#: Uploads not finished after this many hours are removed by cleanup.
UPLOAD_EXPIRY_HOURS = env_int("UPLOAD_EXPIRY_HOURS", 48)
# One chunk plus headroom goes through a request body; whole files never do.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(UPLOAD_CHUNK_BYTES + 1024**2, 2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_PERMISSIONS = 0o640
INVITATION_TTL_HOURS = env_int("INVITATION_TTL_HOURS", 72)

# --- E-mail (notifications, invitations) ------------------------------------------------
# Django's own e-mail settings from the environment. Nothing is e-mailed unless the operator
# names a mail server (EMAIL_HOST) or a backend (EMAIL_BACKEND, e.g. the file-based one).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or "django.core.mail.backends.smtp.EmailBackend"
#: Folder of the file-based backend (django.core.mail.backends.filebased.EmailBackend).
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "HeyGem Studio <heygem@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
#: Whether the studio sends e-mail at all (batch notifications, invitations).
EMAIL_ENABLED = bool(EMAIL_HOST or os.environ.get("EMAIL_BACKEND"))
#: The address people open the studio at, for links in e-mails (no request says it there).
STUDIO_URL = os.environ.get("STUDIO_URL", f"http://localhost:{os.environ.get('PORT', '7860')}")

# --- Quotas (studio/services/quotas.py; 0 = no limit) -------------------------------------
#: Bytes one team may store: presenters + audio + render outputs (+ open uploads' rest).
TEAM_STORAGE_QUOTA_BYTES = env_int("TEAM_STORAGE_QUOTA_BYTES", 0)
#: Render tasks of one team running at once (the scheduler holds the rest back).
TEAM_MAX_CONCURRENT_RENDERS = env_int("TEAM_MAX_CONCURRENT_RENDERS", 0)
#: Unfinished uploads one user may have at once.
USER_MAX_OPEN_UPLOADS = env_int("USER_MAX_OPEN_UPLOADS", 10)

# --- Engine -------------------------------------------------------------------------------
LIPSYNC_MODEL_DIR = os.environ.get("LIPSYNC_MODEL_DIR", str(BASE_DIR / "models"))
# The operator's model mirror for `python -m lipsync models download` (read by the CLI itself;
# the "Engines and models" page writes it into the commands it shows). Never contacted otherwise.
LIPSYNC_MODEL_MIRROR = os.environ.get("LIPSYNC_MODEL_MIRROR", "")
LIPSYNC_CACHE_DIR = os.environ.get("LIPSYNC_CACHE_DIR", str(MEDIA_ROOT / "tracks"))
#: Engine whose *prepare* the presenter face check runs.
LIPSYNC_ENGINE = os.environ.get("LIPSYNC_ENGINE", "warp")
#: Font file subtitles are burned in with; empty: fontconfig's sans-serif (a CJK-capable one
#: for Chinese text), found at run time with fc-match.
LIPSYNC_SUBTITLE_FONT = os.environ.get("LIPSYNC_SUBTITLE_FONT", "")
#: Device of a render worker: "cuda:0", "cpu", "auto".
LIPSYNC_DEVICE = os.environ.get("LIPSYNC_DEVICE", "auto")
os.environ.setdefault("LIPSYNC_MODEL_DIR", LIPSYNC_MODEL_DIR)

# --- Redis, RQ, Channels ------------------------------------------------------------------
# Without REDIS_URL: this checkout's own Redis (a port and password kept in VAR_DIR/redis-url,
# heygem_site/local_redis.py), so two checkouts on one machine never share queues.
REDIS_URL = os.environ.get("REDIS_URL") or local_redis.default_url(VAR_DIR)
#: The queues (studio.queues.QueueName): "cpu" for checks, thumbnails and waveforms, "gpu"
#: for renders; "default" only for RQ's own tools.
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": timeout}
    for name, timeout in (("default", 600), ("cpu", 3600), ("gpu", 6 * 3600))
}
# Render workers run jobs in-process (no fork) so the engine stays loaded (rendering/worker.py).
RQ = {"WORKER_CLASS": "rendering.worker.StudioWorker"}
RQ_SHOW_ADMIN_LINK = True

# --- Batches (rendering/) -----------------------------------------------------------------
#: New batches are refused while MEDIA_ROOT's disk has less free space than this.
MIN_FREE_DISK_BYTES = env_int("MIN_FREE_DISK_BYTES", 2 * 1024**3)
#: Fair share: tasks of one team waiting in the gpu queue at once; the rest wait in the team's
#: backlog until one of these starts (rendering/lifecycle.py, "fair share").
RENDER_QUEUED_PER_TEAM = env_int("RENDER_QUEUED_PER_TEAM", 2)
#: Most renders (audio tracks x presenters) one batch may hold.
MAX_BATCH_TASKS = env_int("MAX_BATCH_TASKS", 1000)
#: The new-batch form posts one field per chosen presenter: room for the largest batch (Django's
#: default of 1000 fields refused it with a bare 400). Follows MAX_BATCH_TASKS.
DATA_UPLOAD_MAX_NUMBER_FIELDS = max(1000, MAX_BATCH_TASKS + 100)
#: Seconds of speech a preview renders.
PREVIEW_SECONDS = env_float("PREVIEW_SECONDS", 3.0)
#: Quality scores (0..100, lipsync/quality.py) below this mark a video "check this one".
QUALITY_REVIEW_BELOW = env_int("QUALITY_REVIEW_BELOW", 50)
#: Job time limit = base + per second of audio + per second of presenter, sized for a CPU.
RENDER_TIMEOUT_BASE_S = env_int("RENDER_TIMEOUT_BASE_S", 120)
RENDER_TIMEOUT_PER_AUDIO_S = env_int("RENDER_TIMEOUT_PER_AUDIO_S", 20)
RENDER_TIMEOUT_PER_PRESENTER_S = env_int("RENDER_TIMEOUT_PER_PRESENTER_S", 5)
#: Audio length assumed for the time limit when a track's duration is unknown.
RENDER_TIMEOUT_UNKNOWN_AUDIO_S = env_int("RENDER_TIMEOUT_UNKNOWN_AUDIO_S", 600)
#: Tries of a task that fails for a transient reason, and the pauses between them.
RENDER_MAX_ATTEMPTS = env_int("RENDER_MAX_ATTEMPTS", 3)
RENDER_RETRY_INTERVALS_S = [int(x) for x in env_list("RENDER_RETRY_INTERVALS_S", ["10", "60"])]
#: A running task whose heartbeat is older than this is taken for dead and re-queued/failed.
RENDER_STALE_AFTER_S = env_int("RENDER_STALE_AFTER_S", 30)
#: How often workers (between jobs) and the reconciler process look for dead tasks.
RECONCILE_INTERVAL_S = env_int("RECONCILE_INTERVAL_S", 10)
#: A queued task whose job is missing from Redis this long is queued again (also the grace
#: before any background job that never started is taken for lost: studio/recovery.py).
RECONCILE_LOST_QUEUED_S = env_int("RECONCILE_LOST_QUEUED_S", 60)
#: A worker whose Redis heartbeat is older than this counts as dead (every job kind; workers
#: beat every PROGRESS_HEARTBEAT_INTERVAL_S while busy and every RECONCILE_INTERVAL_S idle).
WORKER_STALE_AFTER_S = env_int("WORKER_STALE_AFTER_S", 30)
#: A running render that has made no progress this long is taken for lost even though its
#: worker still beats (the run hangs); it is re-queued or failed.
RENDER_HUNG_AFTER_S = env_int("RENDER_HUNG_AFTER_S", 300)
#: Runs of a face check, an audio check or a thumbnail before a lost one is failed for good.
CHECK_MAX_ATTEMPTS = env_int("CHECK_MAX_ATTEMPTS", 2)
#: Frames/s per worker assumed by the estimate before this install has measured any render:
#: about what a 2-core CPU worker reaches with the warp engine on a 576p to 720p presenter.
RENDER_ESTIMATE_FALLBACK_FPS = env_float("RENDER_ESTIMATE_FALLBACK_FPS", 100.0)
#: Live progress: websocket messages per task per second, DB writes and worker heartbeats.
PROGRESS_MESSAGES_PER_S = env_float("PROGRESS_MESSAGES_PER_S", 4.0)
PROGRESS_DB_INTERVAL_S = env_float("PROGRESS_DB_INTERVAL_S", 1.0)
PROGRESS_HEARTBEAT_INTERVAL_S = env_float("PROGRESS_HEARTBEAT_INTERVAL_S", 5.0)
#: Hand files to the front web server (nginx) with X-Accel-Redirect after the team check.
SENDFILE_X_ACCEL = env_bool("SENDFILE_X_ACCEL", False)
SENDFILE_URL_PREFIX = os.environ.get("SENDFILE_URL_PREFIX", "/protected-media/")
CHANNEL_LAYERS = {
    "default": {
        # channels_redis that rides out a Redis restart (heygem_site/channel_layer.py).
        "BACKEND": "heygem_site.channel_layer.ResilientRedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout by default, which cuts the channel layer's
        # 5 s blocking BZPOPMIN (websockets then drop every 5 s): allow longer reads.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
    },
}

# --- Public API (api/) --------------------------------------------------------------------
#: Requests per token (per client address without one) and period, e.g. "120/min", "10/s".
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "120/min")
#: Longest lifetime of an API token (days), and the lifetime the profile form proposes.
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)
API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 90)
#: One audit row (and last_used_at update) per token per this many seconds of reads.
API_AUDIT_READ_INTERVAL_S = env_int("API_AUDIT_READ_INTERVAL_S", 60)
#: How long an Idempotency-Key's first answer is kept (hours).
API_IDEMPOTENCY_HOURS = env_int("API_IDEMPOTENCY_HOURS", 24)
#: Rows per page of the API's lists.
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50)
#: Host names webhooks may call ("hooks.example.com", "*.example.com"); empty: any host whose
#: addresses are all public.
WEBHOOK_ALLOWED_HOSTS = [h.lower() for h in env_list("WEBHOOK_ALLOWED_HOSTS", [])]
#: Networks webhooks may reach although they are not public (e.g. "10.1.2.0/24"); none by
#: default: loopback, private, link-local and reserved addresses are refused.
WEBHOOK_ALLOWED_NETWORKS = env_list("WEBHOOK_ALLOWED_NETWORKS", [])
#: Time limit of one webhook request (connect + answer), seconds.
WEBHOOK_TIMEOUT_S = env_float("WEBHOOK_TIMEOUT_S", 5.0)
#: Tries of one delivery, and the pauses between them (seconds; the last repeats).
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6)
WEBHOOK_RETRY_INTERVALS_S = [
    int(x) for x in env_list("WEBHOOK_RETRY_INTERVALS_S", ["10", "60", "300", "1800", "7200"])
]
#: After "Rotate secret" the old secret also signs for this many hours.
WEBHOOK_SECRET_OVERLAP_HOURS = env_int("WEBHOOK_SECRET_OVERLAP_HOURS", 24)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_THROTTLE_CLASSES": ["api.auth.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.handle",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "HeyGem Studio API",
    "DESCRIPTION": (
        "Upload presenters and audio, render batches, fetch results. Authenticate with "
        "`Authorization: Bearer <token>` (made on the profile page). Errors: "
        '`{"error": {"code", "message", "field"}}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "MediaStatusEnum": "studio.models.MediaStatus",
        "DeliveryStatusEnum": "api.models.DeliveryStatus",
        "UploadKindEnum": "api.schema.UploadKind",
        "PresenterKindEnum": "api.schema.PresenterKind",
    },
}

# --- Security -----------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # upload.js reads the token from the cookie or the page
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
#: Content-Security-Policy (django-csp; heygem_site/security_headers.py adds this origin's
#: websocket to connect-src). Pages load scripts, styles, images, media and fonts from the
#: studio itself only; no inline script or style (templates/ keeps none), no plugins, no
#: framing, forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "media-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
#: Permissions-Policy (django-permissions-policy): no camera, microphone, location and the
#: like; the video players may go full screen and picture-in-picture on this origin.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    "accelerometer": [],
    "autoplay": ["self"],
    "browsing-topics": [],
    "camera": [],
    "display-capture": [],
    "fullscreen": ["self"],
    "geolocation": [],
    "gyroscope": [],
    "magnetometer": [],
    "microphone": [],
    "payment": [],
    "picture-in-picture": ["self"],
    "usb": [],
}
if PRODUCTION:
    DEBUG = env_bool("DEBUG", False)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # Its start-up banner in every process and command; lock-outs stay (warnings).
        "axes.apps": {"level": "WARNING"},
    },
}
