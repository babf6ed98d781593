"""Single sign-on: the real authorization-code flow of mozilla-django-oidc against a small
OpenID provider served by this test on a local port (discovery, authorize, token with PKCE,
user info, JWKS), and the settings that switch it on."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, make_server

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from people.models import ExternalIdentity, Role
from people.roles import role_of

from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID, CLIENT_SECRET = "seams", "provider-secret"


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class FakeProvider:
    """A minimal OpenID provider: it checks what a real one checks (client credentials,
    redirect URI, one-time code, PKCE verifier, bearer token) and signs ID tokens with RS256."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key"
        self.claims: dict = {}
        self.audience = CLIENT_ID
        self.token_status = 200
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.server = make_server("127.0.0.1", 0, self.app, handler_class=_Quiet)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def settings(self) -> dict:
        return {
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.issuer}/authorize",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.issuer}/token",
            "OIDC_OP_USER_ENDPOINT": f"{self.issuer}/userinfo",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.issuer}/jwks",
            "OIDC_OP_ISSUER": self.issuer,
        }

    def app(self, environ, start_response):
        path = environ["PATH_INFO"]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = {
                k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(length).decode()).items()
            }
        else:
            form = {}
        handler = {
            "/.well-known/openid-configuration": self.discovery,
            "/authorize": self.authorize,
            "/token": self.token,
            "/userinfo": self.userinfo,
            "/jwks": self.jwks,
        }.get(path)
        if handler is None:
            return self._json(start_response, 404, {"error": "not_found"})
        return handler(start_response, query=query, form=form, environ=environ)

    @staticmethod
    def _json(start_response, status: int, body: dict, headers=()):
        start_response(f"{status} X", [("Content-Type", "application/json"), *headers])
        return [json.dumps(body).encode()]

    def discovery(self, start_response, **_):
        return self._json(start_response, 200, {"issuer": self.issuer, **{
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
        }})  # fmt: skip

    def authorize(self, start_response, query, **_):
        assert query["response_type"] == "code"
        assert query["client_id"] == CLIENT_ID
        assert set(query["scope"].split()) >= {"openid", "email"}
        assert query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        start_response("302 Found", [("Location", target)])
        return [b""]

    def token(self, start_response, form, **_):
        if self.token_status != 200:
            return self._json(start_response, self.token_status, {"error": "server_error"})
        request = self.codes.pop(form.get("code"), None)  # one-time
        if (
            request is None
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
            or form.get("redirect_uri") != request["redirect_uri"]
            or form.get("grant_type") != "authorization_code"
        ):
            return self._json(start_response, 400, {"error": "invalid_grant"})
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != request["code_challenge"]:
            return self._json(start_response, 400, {"error": "invalid_grant", "pkce": "no"})
        access = secrets.token_urlsafe(16)
        self.access_tokens[access] = dict(self.claims)
        now = int(time.time())
        id_token = jwt.encode(
            {"iss": self.issuer, "sub": self.claims["sub"], "aud": self.audience,
             "iat": now, "exp": now + 300, "nonce": request["nonce"]},
            self.key, algorithm="RS256", headers={"kid": self.kid},
        )  # fmt: skip
        body = {"access_token": access, "token_type": "Bearer", "id_token": id_token}
        return self._json(start_response, 200, body)

    def userinfo(self, start_response, environ, **_):
        auth = environ.get("HTTP_AUTHORIZATION", "")
        claims = self.access_tokens.get(auth.removeprefix("Bearer "))
        if claims is None:
            return self._json(start_response, 401, {"error": "invalid_token"})
        return self._json(start_response, 200, claims)

    def jwks(self, start_response, **_):
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        key = {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}
        return self._json(start_response, 200, {"keys": [key]})


@pytest.fixture
def provider(settings):
    with FakeProvider() as fake:
        settings.SEAMS_OIDC_ENABLED = True
        settings.OIDC_RP_CLIENT_ID = CLIENT_ID
        settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        settings.OIDC_RP_SIGN_ALGO = "RS256"
        settings.OIDC_RP_SCOPES = "openid email profile"
        settings.OIDC_USE_PKCE = True
        settings.OIDC_TIMEOUT = 5
        settings.OIDC_AUTHENTICATION_CALLBACK_URL = "people:sso_callback"
        settings.LOGIN_REDIRECT_URL_FAILURE = "/login/?sso=failed"
        settings.OIDC_PROVIDER_NAME = "Example ID"
        settings.SEAMS_OIDC_GROUPS_CLAIM = "groups"
        settings.AUTHENTICATION_BACKENDS = [
            *settings.AUTHENTICATION_BACKENDS,
            "people.oidc.SeamsOIDCBackend",
        ]
        fake.claims = {
            "sub": "user-123", "email": "kim@example.com", "email_verified": True,
            "preferred_username": "kim", "given_name": "Kim", "family_name": "Ito",
            "groups": ["/sre", "/not-a-team-here"],
        }  # fmt: skip
        yield fake


def sign_in(client: Client, next_url: str = "/reports/"):
    """Click the button, let the provider approve, follow it back: the browser's path."""
    start = client.get(reverse("people:sso_start"), {"next": next_url})
    assert start.status_code == 302
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["Location"])
    assert back.path == reverse("people:sso_callback")
    return client.get(f"{back.path}?{back.query}")


def test_the_login_page_offers_the_provider_only_when_configured(client, settings):
    settings.SEAMS_OIDC_ENABLED = False
    assert "Sign in with" not in client.get(reverse("login")).content.decode()
    assert client.get(reverse("people:sso_start")).status_code == 404
    assert client.get(reverse("people:sso_callback")).status_code == 404


def test_a_new_person_signs_in_with_the_default_role_and_teams_from_the_claim(client, provider):
    sre = GroupFactory(name="sre")
    page = client.get(reverse("login"), {"next": "/reports/"}).content.decode()
    assert "Sign in with Example ID" in page
    assert f"{reverse('people:sso_start')}?next=%2Freports%2F" in page

    answer = sign_in(client)
    assert answer.status_code == 302
    assert answer["Location"] == "/reports/"
    kim = get_user_model().objects.get(username="kim")
    assert int(client.session["_auth_user_id"]) == kim.pk
    assert (kim.email, kim.first_name, kim.last_name) == ("kim@example.com", "Kim", "Ito")
    assert not kim.has_usable_password()
    assert role_of(kim) == Role.READER
    assert list(kim.groups.exclude(name__startswith="Role: ")) == [sre]
    assert not get_user_model().objects.filter(groups__name="not-a-team-here").exists()
    assert ExternalIdentity.objects.get(user=kim).subject == "user-123"
    # A reader: may read, may not write.
    assert client.get(reverse("incidents:list")).status_code == 200
    assert client.get(reverse("incidents:create")).status_code == 403


def test_the_next_sign_in_finds_the_same_person_and_follows_the_groups_claim(provider):
    sre, payments = GroupFactory(name="sre"), GroupFactory(name="payments")
    sign_in(Client())
    provider.claims = {**provider.claims, "email": "kim.ito@example.com",
                       "groups": ["/payments"]}  # fmt: skip
    answer = sign_in(Client())
    assert answer.status_code == 302
    assert get_user_model().objects.count() == 1
    kim = get_user_model().objects.get()
    assert set(kim.groups.exclude(name__startswith="Role: ")) == {payments}
    assert sre.user_set.count() == 0


def test_the_default_role_comes_from_the_setting(provider, settings):
    settings.SEAMS_OIDC_DEFAULT_ROLE = "author"
    sign_in(Client())
    assert role_of(get_user_model().objects.get(username="kim")) == Role.AUTHOR


def test_an_existing_account_is_linked_only_by_a_verified_address(provider):
    sam = UserFactory(username="kim", email="KIM@example.com", role=Role.REVIEWER)
    provider.claims["email_verified"] = False
    sign_in(Client())
    assert get_user_model().objects.count() == 2  # a new account, not sam's
    assert get_user_model().objects.filter(username="kim-2").exists()

    ExternalIdentity.objects.all().delete()
    get_user_model().objects.filter(username="kim-2").delete()
    provider.claims["email_verified"] = True
    browser = Client()
    sign_in(browser)
    assert int(browser.session["_auth_user_id"]) == sam.pk
    assert role_of(sam) == Role.REVIEWER  # an existing person keeps their role


def test_a_deactivated_person_cannot_sign_in_and_their_session_ends(provider):
    browser = Client()
    sign_in(browser)
    kim = get_user_model().objects.get(username="kim")
    assert browser.get(reverse("incidents:list")).status_code == 200
    get_user_model().objects.filter(pk=kim.pk).update(is_active=False)
    assert browser.get(reverse("incidents:list")).status_code == 302  # the session ended
    again = Client()
    answer = sign_in(again)
    assert answer["Location"] == "/login/?sso=failed"
    assert "_auth_user_id" not in again.session
    page = again.get(answer["Location"]).content.decode()
    assert "did not work" in page
    assert "deactivated" in page


def test_a_token_for_another_client_is_refused(provider):
    provider.audience = "someone-else"
    browser = Client()
    assert sign_in(browser)["Location"] == "/login/?sso=failed"
    assert not get_user_model().objects.exists()


def test_a_failing_provider_is_a_failed_sign_in_not_a_server_error(provider):
    provider.token_status = 503
    browser = Client()
    assert sign_in(browser)["Location"] == "/login/?sso=failed"
    assert "_auth_user_id" not in browser.session


def test_a_forged_callback_is_refused(client, provider):
    client.get(reverse("people:sso_start"))
    answer = client.get(reverse("people:sso_callback"), {"code": "x", "state": "forged"})
    assert answer.status_code == 400
    assert "_auth_user_id" not in client.session


def test_a_password_login_still_works_beside_it(client, provider):
    UserFactory(username="sam")
    answer = client.post(
        reverse("login"), {"username": "sam", "password": "correct horse battery staple"}
    )
    assert answer.status_code == 302


def _settings_in_a_fresh_process(**env) -> subprocess.CompletedProcess:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings.base'; "
        "from django.conf import settings; print(settings.AUTHENTICATION_BACKENDS)"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "SEAMS_OIDC"))}
    return subprocess.run([sys.executable, "-c", code], env={**base, "DEBUG": "1", **env},
                          cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip


def test_the_backend_is_there_only_when_configured_and_half_a_setup_fails_at_start():
    plain = _settings_in_a_fresh_process()
    assert plain.returncode == 0, plain.stderr
    assert "people.oidc" not in plain.stdout
    assert "axes" in plain.stdout
    endpoints = {f"OIDC_OP_{name}_ENDPOINT": f"https://id.example.com/{name.lower()}"
                 for name in ("AUTHORIZATION", "TOKEN", "USER", "JWKS")}  # fmt: skip
    full = _settings_in_a_fresh_process(
        OIDC_RP_CLIENT_ID="seams", OIDC_RP_CLIENT_SECRET="x", **endpoints
    )
    assert full.returncode == 0, full.stderr
    assert full.stdout.index("axes") < full.stdout.index("people.oidc.SeamsOIDCBackend")
    half = _settings_in_a_fresh_process(OIDC_RP_CLIENT_ID="seams")
    assert half.returncode != 0
    assert "OIDC_RP_CLIENT_SECRET" in half.stderr
    assert "OIDC_OP_JWKS_ENDPOINT" in half.stderr
    wrong = _settings_in_a_fresh_process(SEAMS_OIDC_DEFAULT_ROLE="boss")
    assert wrong.returncode != 0
    assert "SEAMS_OIDC_DEFAULT_ROLE" in wrong.stderr
