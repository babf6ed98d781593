"""The three request URLs Slack calls. Each verifies Slack's signature, answers within
Slack's three seconds, and leaves the slow part (finding the answer, calling Slack back) to a
job. They are exempt from CSRF: Slack cannot send Seams' CSRF token, and the signature is what
proves the request is Slack's."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chat import answers, commands, services
from chat.links import review_id_from_url
from chat.models import ChatRequest, Platform
from common.api.errors import error_body

from . import blocks
from .verification import refusal

# The callback id of the message shortcut "Have we seen this before?" (docs/integrations/slack.md).
SEEN_BEFORE_CALLBACK = "seams_seen_before"
# Slack offers at most this many links per link_shared event; more is not Slack.
MAX_LINKS = 20


def _error(status: int, message: str, code: str = "invalid") -> JsonResponse:
    """An error in Seams' one error shape (`common.api.errors`)."""
    return JsonResponse(error_body(status, code, message), status=status)


def _verified(view):
    """Refuse what Slack did not sign (401/403), or everything if Slack is not set up (503)."""

    def wrapped(request: HttpRequest) -> HttpResponse:
        refused = refusal(request)
        if refused is not None:
            return _error(refused.status, refused.message, refused.code)
        return view(request)

    wrapped.__doc__ = view.__doc__
    wrapped.__name__ = view.__name__
    return csrf_exempt(require_POST(wrapped))


def _missing(fields: dict, *names: str) -> JsonResponse | None:
    absent = [name for name in names if not fields.get(name)]
    if absent:
        return _error(400, f"Missing field(s): {', '.join(absent)}.")
    return None


@_verified
def slash_command(request: HttpRequest) -> HttpResponse:
    """`/seams <subcommand>`: help and mistakes are answered at once; a question is
    acknowledged with an ephemeral "Looking…" and answered by a job on the `response_url`."""
    form = request.POST
    try:
        command = commands.parse(form.get("text", ""))
    except commands.CommandError as error:
        return JsonResponse(blocks.message(answers.error_reply(str(error))))
    if isinstance(command, commands.Help):
        return JsonResponse(blocks.message(answers.help_reply()))
    if missing := _missing(form, "team_id", "user_id", "response_url", "trigger_id"):
        return missing
    services.submit(
        platform=Platform.SLACK,
        kind=ChatRequest.Kind.COMMAND,
        key=f"slack:{form['team_id']}:command:{form['trigger_id']}",
        team_id=form["team_id"],
        external_user_id=form["user_id"],
        payload={"text": form.get("text", ""), "response_url": form["response_url"]},
    )
    return JsonResponse(blocks.looking())


@_verified
def events(request: HttpRequest) -> HttpResponse:
    """The Events API: the URL check when the Request URL is saved, and `link_shared` for
    links to Seams reviews (previewed by a job through `chat.unfurl`). Other events are
    acknowledged and ignored."""
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "The body is not JSON.")
    if not isinstance(body, dict):
        return _error(400, "The body is not a JSON object.")
    if body.get("type") == "url_verification":
        challenge = body.get("challenge")
        if not isinstance(challenge, str) or not challenge:
            return _error(400, "url_verification needs a challenge.")
        return JsonResponse({"challenge": challenge})
    event = body.get("event")
    if body.get("type") != "event_callback" or not isinstance(event, dict):
        return HttpResponse(status=200)
    if event.get("type") != "link_shared":
        return HttpResponse(status=200)
    links = event.get("links") if isinstance(event.get("links"), list) else []
    urls = [
        link["url"]
        for link in links[:MAX_LINKS]
        if isinstance(link, dict)
        and isinstance(link.get("url"), str)
        and review_id_from_url(link["url"])
    ]
    if not urls:
        return HttpResponse(status=200)
    if missing := _missing(body, "team_id", "event_id"):
        return missing
    services.submit(
        platform=Platform.SLACK,
        kind=ChatRequest.Kind.UNFURL,
        key=f"slack:{body['team_id']}:event:{body['event_id']}",
        team_id=str(body["team_id"]),
        external_user_id=str(event.get("user", "")),
        payload={
            "urls": urls,
            "channel": str(event.get("channel", "")),
            "message_ts": str(event.get("message_ts", "")),
            "unfurl_id": str(event.get("unfurl_id", "")),
            "source": str(event.get("source", "")),
        },
    )
    return HttpResponse(status=200)


@_verified
def interactivity(request: HttpRequest) -> HttpResponse:
    """Interactivity: the message shortcut "Have we seen this before?" (`callback_id`
    `seams_seen_before`), acknowledged at once and answered by a job on the `response_url`.
    Other interactions (a click on a link in an answer) are acknowledged and ignored."""
    try:
        payload = json.loads(request.POST.get("payload", ""))
    except ValueError:
        return _error(400, "The form field `payload` must hold Slack's JSON payload.")
    if not isinstance(payload, dict):
        return _error(400, "The form field `payload` must hold a JSON object.")
    if payload.get("type") != "message_action":
        return HttpResponse(status=200)
    if payload.get("callback_id") != SEEN_BEFORE_CALLBACK:
        return _error(400, f"Unknown shortcut; Seams answers `{SEEN_BEFORE_CALLBACK}`.")
    team = payload.get("team") if isinstance(payload.get("team"), dict) else {}
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    fields = {
        "team.id": team.get("id"),
        "user.id": user.get("id"),
        "response_url": payload.get("response_url"),
        "trigger_id": payload.get("trigger_id"),
    }
    if missing := _missing(fields, *fields):
        return missing
    services.submit(
        platform=Platform.SLACK,
        kind=ChatRequest.Kind.MESSAGE_ACTION,
        key=f"slack:{team['id']}:action:{payload['trigger_id']}",
        team_id=str(team["id"]),
        external_user_id=str(user["id"]),
        payload={"text": str(message.get("text", "")), "response_url": payload["response_url"]},
    )
    return HttpResponse(status=200)
