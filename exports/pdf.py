"""One review as a PDF, printed by WeasyPrint from an HTML page of its own.

The page (`templates/exports/review_pdf.html`) shows the author's Markdown through the same
sanitiser as the review page (`incidents.rendering.render_markdown`), never the author's raw
HTML, and is printed with `review_pdf.css` beside this module and the system's fonts; the
printing fetches nothing and has a deadline (see `exports.printing`).

WeasyPrint needs Pango (a Debian package). Where either is missing, `PdfUnavailable` says
what is missing; the views answer 503 with that, and the Markdown export still works.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from django.template.loader import render_to_string

from incidents.models import Incident

from .document import ReviewDocument, review_document
from .printing import PrinterMissing, PrintFailed, PrintTimeout, print_pdf

logger = logging.getLogger(__name__)

STYLESHEET = Path(__file__).with_name("review_pdf.css")
# Well below gunicorn's 30-second worker timeout, so that a slow print is answered with a
# message, never cut off with the worker, even on a busy machine.
PRINT_SECONDS = 15.0


class PdfUnavailable(Exception):
    """This server cannot render PDFs; the message says why and what would fix it."""


def _installed() -> None:
    """Raise PdfUnavailable unless WeasyPrint is installed. Only looked up here (the child
    process imports it), so a web worker never loads it; a missing Pango is reported by the
    child."""
    if importlib.util.find_spec("weasyprint") is None:
        raise PdfUnavailable(
            "WeasyPrint is not installed (No module named 'weasyprint'). Install requirements.txt."
        )


def document_html(doc: ReviewDocument) -> str:
    """The HTML page a PDF is printed from (the author's Markdown rendered and sanitised)."""
    return render_to_string("exports/review_pdf.html", {"doc": doc})


def document_pdf(doc: ReviewDocument) -> bytes:
    """Print a `ReviewDocument` to PDF bytes; raises PdfUnavailable where it cannot."""
    _installed()
    try:
        return print_pdf(document_html(doc), stylesheet=STYLESHEET, seconds=PRINT_SECONDS)
    except PrinterMissing as missing:
        raise PdfUnavailable(
            f"{missing} Install requirements.txt, and Debian's libpango-1.0-0 and "
            "libpangoft2-1.0-0."
        ) from missing
    except PrintTimeout as late:
        raise PdfUnavailable(
            f"this review is too long or too intricate to print here ({late}). "
            "Its Markdown export has all of it."
        ) from late
    except PrintFailed as failed:
        logger.warning("PDF export failed: %s", failed)
        raise PdfUnavailable(
            f"printing failed ({failed}). Its Markdown export has all of it."
        ) from failed


def review_pdf(incident: Incident) -> bytes:
    """One review as a PDF document: the same content as the Markdown export, laid out for
    print with page numbers."""
    return document_pdf(review_document(incident))
