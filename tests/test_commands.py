"""Management commands a bot's operator uses."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from incidents.models import ApiToken

pytestmark = pytest.mark.django_db


def test_create_api_token_prints_a_key_that_is_stored_only_as_a_digest():
    out = StringIO()
    call_command("create_api_token", "chat-bot", "--scope", "write", stdout=out, stderr=StringIO())
    key = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert token.scope == "write"
    assert token.user.username == "bot-chat-bot"
    assert key not in (token.digest, token.prefix)
    assert token.digest == ApiToken.hash_key(key)


def test_create_api_token_for_an_unknown_user_is_a_clear_error():
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "x", "--user", "ghost", stdout=StringIO())
