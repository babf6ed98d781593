"""Health checks that do not depend on what they report on.

`/healthz` says only that this process serves requests: it touches no database, cache or
broker, so an outage elsewhere cannot make a load balancer kill healthy web processes.
`/readyz` checks the database and the broker separately, each with a short timeout, and
reports a broker outage as "degraded" (reviews still save; analysis catches up later).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> dict:
    """Run a trivial query; report ok with latency, or the error."""
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure is the answer, not a crash
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok", "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def check_broker() -> dict:
    """Ping Redis with a one-second timeout; in embedded mode there is no broker to ping."""
    if not settings.REDIS_URL:
        return {"status": "ok", "mode": "in-process (no broker configured)"}
    import redis

    started = time.monotonic()
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
        client.close()
    except Exception as exc:
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok", "latency_ms": round((time.monotonic() - started) * 1000, 1)}


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Database down: 503 (nothing works). Broker down: 200 "degraded" (saves still work)."""
    database, broker = check_database(), check_broker()
    if database["status"] != "ok":
        status, code = "unavailable", 503
    elif broker["status"] != "ok":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return JsonResponse(
        {"status": status, "checks": {"database": database, "broker": broker}}, status=code
    )
