"""Web pages of the timeline import: upload or paste, preview and choose, import.

Only whoever may edit the review (`incidents.permissions.can_edit`) reaches these pages; a
review the person may not see answers 404, as one that does not exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from incidents import permissions
from incidents.models import Incident, TimelineEvent

from . import services
from .forms import UploadForm, chosen_from_post, sign_log, unsign_log
from .sources import ChatImportError


def _editable(request: HttpRequest, pk: int) -> Incident:
    incident = get_object_or_404(Incident.objects.visible_to(request.user), pk=pk)
    if not permissions.can_edit(request.user, incident):
        raise PermissionDenied(permissions.EDIT_REFUSED)
    return incident


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Step one: a Slack export or a pasted transcript. A readable chat answers with the
    preview (step two) on the same request; anything unreadable, with the form and why."""
    incident = _editable(request, pk)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        preview = services.preview(incident=incident, log=form.log)
        return render(
            request,
            "timeline_import/preview.html",
            {
                "incident": incident,
                "preview": preview,
                "payload": sign_log(form.log, incident_pk=incident.pk, user_pk=request.user.pk),
                "kinds": TimelineEvent.Kind.choices,
            },
        )
    status = 400 if request.method == "POST" else 200
    return render(
        request, "timeline_import/upload.html", {"incident": incident, "form": form}, status=status
    )


@login_required
@require_POST
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Step three: add the ticked messages, each with its chosen kind, to the timeline."""
    incident = _editable(request, pk)
    try:
        log = unsign_log(
            request.POST.get("payload", ""), incident_pk=incident.pk, user_pk=request.user.pk
        )
    except ChatImportError as error:
        form = UploadForm()
        return render(
            request,
            "timeline_import/upload.html",
            {"incident": incident, "form": form, "stale": str(error)},
            status=400,
        )
    preview = services.preview(incident=incident, log=log)
    indices, kinds = chosen_from_post(request.POST, len(preview.rows))
    rows = [preview.rows[i] for i in indices]
    if not rows:
        messages.error(request, "No message was chosen: tick the ones the timeline needs.")
        return render(
            request,
            "timeline_import/preview.html",
            {
                "incident": incident,
                "preview": preview,
                "payload": request.POST["payload"],
                "kinds": TimelineEvent.Kind.choices,
            },
            status=400,
        )
    result = services.import_rows(
        incident=incident,
        by=request.user,
        rows=rows,
        kinds={preview.rows[i].source_id: kind for i, kind in kinds.items()},
    )
    added, skipped = len(result.added), len(result.already_imported)
    text = f"Imported {added} timeline event{'s' if added != 1 else ''} from chat."
    if skipped:
        were = "s were" if skipped != 1 else " was"
        text += f" {skipped} chosen message{were} already in the timeline."
    messages.success(request, text)
    return redirect("incidents:edit", incident.pk)
