"""Web endpoints of the trackers app: the form behind an action item's tracker cell, and
the webhooks the trackers call when an issue changes."""

from __future__ import annotations

import json
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from actions import selectors as action_selectors
from actions.permissions import CLOSE_REFUSED, can_close
from common.api.errors import error_body

from . import clients, services
from .models import TrackerConnection

logger = logging.getLogger(__name__)


@login_required
@require_POST
def request_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Create an issue for the item (`create`) or link an existing one (`link`), then go
    back to the page the form was on."""
    item = get_object_or_404(
        action_selectors.visible_items(request.user).select_related("incident"), pk=pk
    )
    if not can_close(request.user, item):
        raise PermissionDenied(CLOSE_REFUSED)
    chosen = request.POST.get("connection", "")
    connection = (
        TrackerConnection.objects.filter(enabled=True, pk=chosen).first()
        if chosen.isdigit()
        else None
    )
    reference = request.POST.get("link", "").strip()
    if connection is None:
        messages.error(request, "Choose a tracker connection.")
    else:
        try:
            if reference:
                services.tracked_issue_link(
                    item=item, connection=connection, by=request.user, reference=reference
                )
                messages.success(request, f"“{item.title}” is being linked to {reference}.")
            else:
                services.tracked_issue_create(item=item, connection=connection, by=request.user)
                messages.success(request, f"An issue for “{item.title}” is being created.")
        except services.TrackerRefused as refused:
            messages.error(request, str(refused))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = item.incident.get_absolute_url()
    return redirect(target)


def _answer(status: int, code: str, message: str) -> JsonResponse:
    """An error answer in the API's one error shape."""
    return JsonResponse(error_body(status, code, message), status=status)


@csrf_exempt  # signed by the tracker instead: no browser session is involved
@require_POST
def webhook(request: HttpRequest, pk: int) -> HttpResponse:
    """Take in one tracker webhook: verify its signature (401 unsigned, 403 signed wrongly),
    then move the linked item if the issue's state changed. Answers 200 with what was done;
    events about issues Seams does not link, or that it does not follow, answer 202."""
    connection = TrackerConnection.objects.filter(pk=pk, enabled=True).first()
    if connection is None:
        return _answer(404, "not_found", "No such tracker connection, or it is switched off.")
    if not connection.webhook_secret:
        return _answer(403, "permission_denied", "This connection has no webhook secret set.")
    try:
        body = request.body
    except RequestDataTooBig:
        return _answer(413, "too_large", "The webhook's body is too large.")
    client = clients.client_for(connection)
    try:
        client.verify(request.headers, body, request.GET)
    except clients.WebhookRefused as refused:
        logger.warning("tracker webhook for connection %s refused: %s", pk, refused)
        return _answer(refused.status, "not_authenticated" if refused.status == 401
                       else "permission_denied", str(refused))  # fmt: skip
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _answer(400, "bad_request", "The webhook's body is not JSON.")
    if clients.webhook_too_old(connection, data):
        return _answer(403, "permission_denied", "webhookTimestamp is too old (a replay?).")
    remote = client.webhook(request.headers, body, data)
    if remote is None:
        return JsonResponse({"result": "ignored", "reason": "not an issue event Seams follows"},
                            status=202)  # fmt: skip
    link = services.link_for_webhook(connection, remote)
    if link is None:
        return JsonResponse({"result": "ignored", "reason": "no action item is linked to it"},
                            status=202)  # fmt: skip
    applied = services.apply_remote(link.pk, remote)
    return JsonResponse(
        {
            "result": "applied",
            "issue": applied.link.key,
            "action_item": applied.link.action_item_id,
            "status": applied.status,
        }
    )
