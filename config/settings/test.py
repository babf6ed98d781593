"""Unit-test settings: fast hashing, eager jobs, SQLite unless DATABASE_URL says otherwise."""

import os

os.environ.setdefault("DEBUG", "1")

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Django's test client logs in without a request, which django-axes refuses; the login
# throttling tests switch it on (and the integration suite's servers can, with AXES_ENABLED=1).
AXES_ENABLED = env_bool("AXES_ENABLED", False)  # noqa: F405
