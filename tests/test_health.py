"""Health checks must not depend on what they report on."""

import socket

import pytest


def test_healthz_touches_nothing(client):
    # No django_db mark: pytest-django makes any database access in this test an error.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_database_and_broker_separately(client):
    body = client.get("/readyz").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "ok"  # embedded mode: in-process jobs


@pytest.mark.django_db
def test_readyz_says_degraded_not_500_when_redis_is_down(client, settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "down"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db
def test_the_api_throttle_fails_open_when_its_cache_is_unreachable(settings, read_api, caplog):
    # Django's own Redis cache raises on a refused connection: nothing is listening there.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }
    for _ in range(3):
        assert read_api.get("/api/v1/patterns/").status_code == 200
    warnings = [r for r in caplog.records if "API throttle failed open" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once per request
    assert warnings[0].levelname == "WARNING"


@pytest.mark.django_db
def test_the_configured_cache_fails_open_and_says_so_once(settings, read_api, caplog):
    from config.settings.base import CACHES

    cache = {**CACHES["default"]} if "django_redis" in CACHES["default"]["BACKEND"] else None
    if cache is None:  # the embedded settings: build the real-stack one the same way
        cache = {
            "BACKEND": "django_redis.cache.RedisCache",
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    cache["LOCATION"] = f"redis://127.0.0.1:{_closed_port()}/0"
    settings.CACHES = {"default": cache}
    settings.DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    for _ in range(3):
        assert read_api.get("/api/v1/patterns/").status_code == 200
    lines = [r for r in caplog.records if "cache failed open" in r.getMessage()]
    assert len(lines) == 1
    assert "ConnectionError" in lines[0].getMessage()
