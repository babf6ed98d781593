"""Web pages of the exports app: one review downloaded as Markdown or as PDF.

Both answer only to users who may see the review; anyone else gets the same 404 as for a
review that does not exist. A server that cannot render PDFs answers 503 with the reason,
and the Markdown export still works.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from incidents.models import Incident

from .document import exportable_review
from .markdown import review_markdown
from .pdf import PdfUnavailable, review_pdf

MARKDOWN_TYPE = "text/markdown; charset=utf-8"
PDF_TYPE = "application/pdf"


def file_name(incident: Incident, extension: str) -> str:
    """`storage-outage-12.md`: the title as a slug (at most 80 characters, cut between
    words), and the id so two files never clash."""
    slug = slugify(incident.title)
    if len(slug) > 80:
        slug = slug[:81].rsplit("-", 1)[0][:80]
    return f"{slug or 'review'}-{incident.pk}.{extension}"


def attachment(body: bytes | str, *, content_type: str, name: str) -> HttpResponse:
    """A download: the body with its type and a Content-Disposition naming the file."""
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, name)
    # A review changes; a download is its state now, never one a cache kept.
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_safe
def export_markdown(request: HttpRequest, pk: int) -> HttpResponse:
    """The review as a Markdown file."""
    incident = exportable_review(request.user, pk)
    return attachment(
        review_markdown(incident), content_type=MARKDOWN_TYPE, name=file_name(incident, "md")
    )


@login_required
@require_safe
def export_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The review as a PDF file, or a 503 page saying why this server cannot make one."""
    incident = exportable_review(request.user, pk)
    try:
        body = review_pdf(incident)
    except PdfUnavailable as unavailable:
        return render(
            request,
            "exports/unavailable.html",
            {"incident": incident, "reason": str(unavailable)},
            status=503,
        )
    return attachment(body, content_type=PDF_TYPE, name=file_name(incident, "pdf"))
