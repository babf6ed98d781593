"""API for exports: one review as Markdown or as PDF (`GET /api/v1/incidents/{id}/export/`).

A read token is enough. A review the token's user may not see answers 404, exactly as an
unknown one. The body is the file itself (`text/markdown` or `application/pdf`, with a
Content-Disposition naming it); every error is the API's usual JSON error document.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.views import APIView

from common.api.schema import ERRORS, READ_ERRORS, documented_error

from .document import exportable_review
from .markdown import review_markdown
from .pdf import PdfUnavailable, review_pdf
from .views import MARKDOWN_TYPE, PDF_TYPE, attachment, file_name

FORMATS = ("md", "pdf")
FILE_DESCRIPTION = "The review as a file: Markdown for `format=md`, PDF for `format=pdf`."
FORMAT_REFUSED = "Say which format to export: `format=md` (Markdown) or `format=pdf` (PDF)."


class ExportUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "export_unavailable"
    default_detail = "PDF export is not available on this server."


@extend_schema(
    summary="Export one review as Markdown or PDF",
    description=(
        "The whole review as a file to hand to someone outside Seams: its facts (times in "
        "UTC), every section, the timeline and the action items, and a link back to the "
        "review. `format=md` answers `text/markdown` (the author's Markdown as written); "
        "`format=pdf` answers `application/pdf`, rendered with the review page's sanitiser "
        "and without fetching anything the review links to. Both carry a "
        "`Content-Disposition: attachment` header with a file name. A review you may not "
        "see answers 404, like an unknown one. A server without WeasyPrint answers 503 to "
        "`format=pdf`; Markdown still works there."
    ),
    parameters=[
        OpenApiParameter(
            "id",
            int,
            OpenApiParameter.PATH,
            description="The review's id.",
            examples=[OpenApiExample("A review", value=1)],
        ),
        OpenApiParameter(
            "format",
            str,
            enum=list(FORMATS),
            required=True,
            description="`md` for Markdown, `pdf` for PDF.",
            examples=[OpenApiExample("Markdown", value="md"), OpenApiExample("PDF", value="pdf")],
        ),
    ],
    responses={
        (200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR, description=FILE_DESCRIPTION),
        (200, "application/pdf"): OpenApiResponse(
            OpenApiTypes.BINARY, description=FILE_DESCRIPTION
        ),
        400: documented_error(
            400,
            "invalid",
            "The request has invalid fields; see `fields`.",
            "No `format`, or one Seams does not export to.",
            {"format": [FORMAT_REFUSED]},
        ),
        **READ_ERRORS,
        404: ERRORS[404],
        503: documented_error(
            503,
            "export_unavailable",
            "PDF export is not available on this server: WeasyPrint is not "
            "installed (No module named 'weasyprint'). Install requirements.txt.",
            "This server cannot render PDFs (WeasyPrint or Pango is missing).",
        ),
    },
)
class ReviewExportView(APIView):
    """One review, visible to the caller, as a Markdown or PDF file."""

    def perform_content_negotiation(self, request, force=False):
        # `format` picks the file; an error is always the JSON error document, whatever the
        # client's Accept header asks for (a PDF reader's `Accept: application/pdf` must
        # get a readable 404, not a 406).
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type

    def get(self, request, id: int):
        wanted = request.query_params.get("format")
        if wanted not in FORMATS:
            raise ValidationError({"format": [FORMAT_REFUSED]})
        incident = exportable_review(request.user, id)
        if wanted == "md":
            return attachment(
                review_markdown(incident),
                content_type=MARKDOWN_TYPE,
                name=file_name(incident, "md"),
            )
        try:
            body = review_pdf(incident)
        except PdfUnavailable as unavailable:
            raise ExportUnavailable(
                f"PDF export is not available on this server: {unavailable}"
            ) from unavailable
        return attachment(body, content_type=PDF_TYPE, name=file_name(incident, "pdf"))
