"""Answering a recorded Slack request (`chat.models.ChatRequest`): the answer is found first,
then sent by the callable returned here, which `chat.services.answer_request` runs while it
holds the row, so the answer is posted once."""

from __future__ import annotations

from collections.abc import Callable

from chat import answers, commands
from chat.links import review_id_from_url
from chat.models import ChatRequest

from . import blocks, client


def prepare(request: ChatRequest, payload: dict, reader) -> Callable[[], None]:
    """The answer to `request`, ready to send."""
    if request.kind == ChatRequest.Kind.UNFURL:
        return _unfurl(payload)
    if request.kind == ChatRequest.Kind.MESSAGE_ACTION:
        text = (payload.get("text") or "").strip()
        reply = (
            answers.similar(text[: commands.MAX_TEXT], reader=reader)
            if text
            else answers.error_reply("That message has no text to compare with past incidents.")
        )
    else:
        try:
            reply = answers.answer(commands.parse(payload.get("text", "")), reader=reader)
        except commands.CommandError as error:
            reply = answers.error_reply(str(error))
    message = blocks.message(reply)
    return lambda: client.post_to_response_url(payload["response_url"], message)


def _unfurl(payload: dict) -> Callable[[], None]:
    previews = {}
    for url in payload.get("urls", []):
        incident_id = review_id_from_url(url)
        if incident_id:
            previews[url] = blocks.unfurl(answers.review_preview(incident_id, url))
    if not previews:
        return lambda: None
    return lambda: client.chat_unfurl(
        unfurls=previews,
        channel=payload.get("channel", ""),
        ts=payload.get("message_ts", ""),
        unfurl_id=payload.get("unfurl_id", ""),
        source=payload.get("source", ""),
    )
