"""docker-compose.yml (no engine runs here) parses and agrees with the Makefile and settings."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_web_worker_beat_postgres_and_redis():
    services = _compose()["services"]
    assert set(services) == {"web", "worker", "beat", "postgres", "redis"}
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "gunicorn config.wsgi" in services["web"]["command"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_compose_commands_match_the_makefile():
    makefile = (ROOT / "Makefile").read_text()
    services = _compose()["services"]
    for name in ("worker", "beat"):
        # the same Celery app and sub-command as `make worker` / `make beat`
        invocation = re.search(r"celery -A config \w+", services[name]["command"]).group(0)
        assert invocation in makefile.replace("$(BIN)/", "")


def test_the_dockerfile_installs_the_pinned_requirements():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.txt" in dockerfile
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith(("#", "-r")):
            assert "==" in line, f"unpinned requirement: {line}"


def test_collectstatic_works_with_the_production_storage(tmp_path, settings):
    # The Dockerfile runs this: a vendored file naming a missing source map breaks the build.
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    assert (tmp_path / "staticfiles.json").exists()


@pytest.mark.django_db
def test_with_debug_off_pages_need_collected_static_files_so_every_server_collects_them(
    tmp_path, settings, client
):
    # Without the manifest every HTML page, the 404 page included, is a server error; the
    # contract run once served a probe of an odd URL that way.
    from django.core.management import call_command

    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    client.raise_request_exception = False
    assert client.get("/no-such-page\\\x1b\x01").status_code == 500
    call_command("collectstatic", "--noinput", verbosity=0)
    assert client.get("/no-such-page\\\x1b\x01").status_code == 404
    for place in ("Makefile", "Dockerfile", "tests/contract/run.sh"):
        assert "manage.py collectstatic --noinput" in (ROOT / place).read_text().replace(
            "$(MANAGE)", "manage.py"
        ), place


def test_every_gunicorn_invocation_uses_the_shared_config():
    # The config lifts gunicorn's HTML 414 so Seams' own JSON one answers long URLs.
    places = {
        "Makefile": (ROOT / "Makefile").read_text(),
        "Dockerfile": (ROOT / "Dockerfile").read_text().replace('", "', " "),
        "compose": _compose()["services"]["web"]["command"],
        "contract": (ROOT / "tests/contract/run.sh").read_text(),
    }
    for name, text in places.items():
        assert "gunicorn config.wsgi --config config/gunicorn.conf.py" in text, name
