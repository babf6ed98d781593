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
    assert client.get("/no-such-page/").status_code == 500
    call_command("collectstatic", "--noinput", verbosity=0)
    assert client.get("/no-such-page/").status_code == 404
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


# --- Production settings -------------------------------------------------------------------

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402


def _documented_production_settings() -> str:
    """The `sh` block of docs/security.md's "Production settings" section."""
    text = (ROOT / "docs/security.md").read_text()
    section = text.split("## Production settings", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def _manage(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run manage.py after `script` (shell exports) in a clean environment, as a deployer would."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "SECURE_", "SEAMS_"))
        and name not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"}
    }
    command = f'{script}\nexec "{sys.executable}" manage.py {" ".join(args)}'
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_the_documented_production_settings():
    result = _manage(
        _documented_production_settings(), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("short-but-random-Zq81", "at least 50"),
        ("a" * 30 + "b" * 30, "different characters"),
        ("change-me", "placeholder"),
        ("seams-insecure-development-key", "placeholder"),
    ],
)
def test_a_weak_secret_key_is_refused_at_start_up_when_debug_is_off(key, reason):
    script = _documented_production_settings() + f"\nexport SECRET_KEY='{key}'"
    result = _manage(script, "check")
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr
    assert reason in result.stderr


def test_with_a_database_url_and_debug_off_a_secret_key_is_required():
    script = _documented_production_settings() + "\nunset SECRET_KEY"
    result = _manage(script, "check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_https_redirect_and_hsts_come_from_the_environment_and_probes_are_exempt(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    response = client.get("/patterns/")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    # A load balancer's probe over plain HTTP is answered, not redirected.
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    secure = client.get("/healthz", secure=True)
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_the_settings_read_https_options_from_the_environment():
    script = (
        "export DEBUG=1 SECURE_SSL_REDIRECT=1 SECURE_HSTS_SECONDS=600 "
        "SECURE_HSTS_INCLUDE_SUBDOMAINS=1 SECURE_HSTS_PRELOAD=1"
    )
    result = _manage(
        script,
        "shell",
        "-c",
        "'from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD)'",
    )
    assert result.stdout.splitlines()[-1].split() == ["True", "600", "True", "True"], result


@pytest.mark.django_db
def test_every_page_has_a_content_security_policy_without_inline_script(client):
    response = client.get("/login/")
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    # Only Seams' files, and the 500 page's own style block by its hash.
    assert policy["style-src"].split()[0] == "'self'"
    assert all(source.startswith("'sha256-") for source in policy["style-src"].split()[1:])
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert response["X-Frame-Options"] == "DENY"


def test_no_template_has_inline_script_or_style():
    # The policy above forbids them; a browser would silently drop such a script or style.
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        if template.name == "500.html":
            # Self-contained on purpose (it must render when static files cannot); its one
            # style block is allowed by hash, which the browser test checks.
            text = re.sub(r"<style>.*?</style>", "", text, flags=re.S)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert "<style" not in text, template
        assert not re.search(r"\sstyle=", text), template
