"""The demo colleagues `make run` creates: with them, the demo login's review can be approved
and published, which one login alone never could (an author cannot approve their own)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from people.roles import Role, role_of

pytestmark = pytest.mark.django_db


def test_the_demo_team_has_a_reviewer_and_a_reader_and_loading_twice_changes_nothing(capsys):
    call_command("load_demo_team", password="pw-for-the-demo")
    call_command("load_demo_team", password="another")
    users = get_user_model().objects
    reviewer, reader = users.get(username="demo-reviewer"), users.get(username="demo-reader")
    assert (role_of(reviewer), role_of(reader)) == (Role.REVIEWER, Role.READER)
    # The second run kept the first password (a person may have changed it since).
    assert reviewer.check_password("pw-for-the-demo")
    assert reader.has_perm("incidents.add_incident") is False
    out = capsys.readouterr().out
    assert "Demo reviewer: demo-reviewer / pw-for-the-demo" in out
    assert "Demo reviewer: demo-reviewer (password unchanged)" in out
