"""Speaking to Slack: posting a message to a `response_url`, and `chat.unfurl` on the Web API
(`SLACK_API_URL`, the bot token as `Authorization: Bearer`). A failure is either
`SlackUnavailable` (worth retrying: no connection, a timeout, 429 or 5xx) or `SlackRefused`
(Slack said no for good: the reply address expired, the token is wrong…)."""

from __future__ import annotations

import logging
from urllib.error import URLError

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from chat.errors import PlatformRefused, PlatformUnavailable

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10


class SlackUnavailable(PlatformUnavailable):
    """Slack could not be reached or asked to try later; the job is retried."""


class SlackRefused(PlatformRefused):
    """Slack refused the answer for a reason retrying will not change."""


def _transient(status: int) -> bool:
    return status == 429 or status >= 500


def post_to_response_url(url: str, message: dict) -> None:
    """Post `message` (a Block Kit message) to a slash command's or shortcut's reply address."""
    try:
        response = WebhookClient(url, timeout=TIMEOUT_SECONDS).send_dict(message)
    except (URLError, OSError) as error:
        raise SlackUnavailable(f"could not reach the response_url: {error}") from error
    if response.status_code == 200:
        return
    if _transient(response.status_code):
        raise SlackUnavailable(f"response_url answered {response.status_code}")
    raise SlackRefused(f"response_url answered {response.status_code}: {response.body[:200]}")


def web_client() -> WebClient:
    """The Web API client: the bot token, `SLACK_API_URL` (tests point it at a local server)."""
    if not settings.SLACK_BOT_TOKEN:
        raise SlackRefused("SLACK_BOT_TOKEN is not set: Seams cannot unfurl links")
    return WebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=settings.SLACK_API_URL.rstrip("/") + "/",
        timeout=TIMEOUT_SECONDS,
    )


def chat_unfurl(*, unfurls: dict, channel: str = "", ts: str = "", unfurl_id: str = "",
                source: str = "") -> None:  # fmt: skip
    """Call `chat.unfurl` with the previews of a message's links: by `unfurl_id` and
    `source` when the event gave them (links previewed in the composer too), else by the
    message's channel and timestamp."""
    client = web_client()
    where = (
        {"unfurl_id": unfurl_id, "source": source}
        if unfurl_id and source
        else {"channel": channel, "ts": ts}
    )
    try:
        client.chat_unfurl(unfurls=unfurls, **where)
    except SlackApiError as error:
        status = error.response.status_code
        if _transient(status):
            raise SlackUnavailable(f"chat.unfurl answered {status}") from error
        raise SlackRefused(f"chat.unfurl: {error.response.get('error', status)}") from error
    except (URLError, OSError) as error:
        raise SlackUnavailable(f"could not reach the Slack API: {error}") from error
