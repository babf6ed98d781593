"""Invitations: the e-mailed one-time link, from the admin's form to the new person's first
page."""

from __future__ import annotations

import datetime as dt
import re
from smtplib import SMTPException

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from people.models import Invitation, Role
from people.roles import role_of

from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "a long and unusual passphrase"


@pytest.fixture
def admin_client(db):
    browser = Client()
    browser.force_login(UserFactory(username="ada", role=Role.ADMIN))
    return browser


def invite(admin_client, email="kim@example.com", role="reviewer", teams=()):
    answer = admin_client.post(
        reverse("people:invite"), {"email": email, "role": role, "teams": [t.pk for t in teams]}
    )
    return answer


def link_in(message) -> str:
    return re.search(r"http://\S+/invite/\S+/", message.body).group(0)


def test_round_trip_from_invitation_to_logged_in_reviewer(admin_client, settings):
    settings.SEAMS_BASE_URL = "https://seams.example.com"
    sre, payments = GroupFactory(name="sre"), GroupFactory(name="payments")
    answer = invite(admin_client, teams=[sre, payments])
    assert answer.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["kim@example.com"]
    assert "as a reviewer" in message.body
    link = re.search(r"https://seams\.example\.com(/invite/\S+/)", message.body).group(1)
    token = link.split("/")[2]
    # Only the token's hash is stored.
    stored = Invitation.objects.get()
    assert token not in stored.token_digest
    assert stored.token_digest == Invitation.hash_token(token)

    newcomer = Client()
    page = newcomer.get(link)
    assert page.status_code == 200
    assert "kim@example.com" in page.content.decode()
    joined = newcomer.post(link, {"username": "kim", "password1": PASSWORD, "password2": PASSWORD})
    assert joined.status_code == 302
    kim = get_user_model().objects.get(username="kim")
    assert kim.email == "kim@example.com"
    assert kim.check_password(PASSWORD)
    assert role_of(kim) == Role.REVIEWER
    assert set(kim.groups.exclude(name__startswith="Role: ")) == {sre, payments}
    assert int(newcomer.session["_auth_user_id"]) == kim.pk  # logged in
    assert newcomer.get(reverse("incidents:list")).status_code == 200

    # The link works once.
    again = Client().post(link, {"username": "kim2", "password1": PASSWORD, "password2": PASSWORD})
    assert again.status_code == 410
    assert "already used" in again.content.decode()
    assert not get_user_model().objects.filter(username="kim2").exists()


def test_an_expired_link_is_refused(admin_client, settings):
    settings.SEAMS_INVITE_DAYS = 2
    invite(admin_client)
    link = link_in(mail.outbox[0])
    invitation = Invitation.objects.get()
    assert invitation.expires_at - invitation.created_at == dt.timedelta(days=2)
    Invitation.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    for answer in (
        Client().get(link),
        Client().post(link, {"username": "kim", "password1": PASSWORD, "password2": PASSWORD}),
    ):
        assert answer.status_code == 410
        assert "expired" in answer.content.decode()
    assert not get_user_model().objects.filter(username="kim").exists()


def test_an_unknown_link_is_404():
    answer = Client().get(reverse("people:accept", args=["not-a-real-token"]))
    assert answer.status_code == 404
    assert "not known" in answer.content.decode()


def test_inviting_an_address_that_has_an_account_says_so(admin_client):
    UserFactory(username="sam", email="Sam@Example.com")
    answer = invite(admin_client, email="sam@example.com")
    assert answer.status_code == 400
    assert "already has an account" in answer.content.decode()
    assert "sam" in answer.content.decode()
    assert not mail.outbox
    assert not Invitation.objects.exists()


def test_the_form_says_what_is_wrong(admin_client):
    answer = invite(admin_client, email="not an address", role="emperor")
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "Enter a valid email address" in page
    assert "Select a valid choice" in page


def test_a_new_invitation_replaces_the_unused_one(admin_client):
    invite(admin_client)
    first = link_in(mail.outbox[0])
    invite(admin_client)
    second = link_in(mail.outbox[1])
    assert Client().get(first).status_code == 404
    assert Client().get(second).status_code == 200


def test_the_invitees_password_must_pass_djangos_validators(admin_client):
    invite(admin_client)
    link = link_in(mail.outbox[0])
    weak = Client().post(link, {"username": "kim", "password1": "123", "password2": "123"})
    assert weak.status_code == 400
    assert "too short" in weak.content.decode()
    taken = UserFactory(username="Kim2")
    clash = Client().post(
        link, {"username": taken.username.lower(), "password1": PASSWORD, "password2": PASSWORD}
    )
    assert clash.status_code == 400
    assert "already exists" in clash.content.decode()
    assert Invitation.objects.get().accepted_at is None


def test_an_unsent_email_shows_the_link_once(admin_client, monkeypatch):
    def fail(*args, **kwargs):
        raise SMTPException("connection refused")

    monkeypatch.setattr("people.invitations.send_mail", fail)
    answer = invite(admin_client)
    assert answer.status_code == 502
    page = answer.content.decode()
    assert "could not be sent" in page
    link = re.search(r"<code>(\S+)</code>", page).group(1)
    assert Client().get(link).status_code == 200


def test_only_admins_invite(client):
    client.force_login(UserFactory(role=Role.AUTHOR))
    assert invite(client).status_code == 403
    assert not mail.outbox
