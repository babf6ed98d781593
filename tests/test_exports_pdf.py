"""The PDF export: a real PDF showing the review, rendered without fetching anything, and a
clear 503 (never a 500) on a server that cannot render PDFs."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pypdf import PdfReader

from exports import printing
from exports.document import review_document
from exports.pdf import document_html, review_pdf
from exports.printing import MISSING
from incidents import services
from incidents.models import Incident

from .factories import UserFactory

pytestmark = pytest.mark.django_db

START = datetime(2025, 5, 4, 8, 15, tzinfo=UTC)


def pdf_review(**fields) -> Incident:
    return services.incident_create(
        by=UserFactory(),
        content=services.ReviewContent(
            fields={"title": "Ledger replay stall", "started_at": START,
                    "summary": "Replays stopped.", **fields},
            timeline=[services.TimelineEntry(START, "Replay worker stalls.", "trigger")],
            actions=[services.ActionEntry("Bound the replay batch", owner="Ledger team")],
        ),
    )  # fmt: skip


def pdf_text(body: bytes) -> str:
    """The PDF's text, with line breaks and runs of spaces as single spaces."""
    pages = PdfReader(io.BytesIO(body)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def test_the_pdf_is_a_real_pdf_that_shows_the_review():
    body = review_pdf(pdf_review())
    assert body.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(body))
    assert reader.metadata.title == "Ledger replay stall"
    shown = pdf_text(body)
    assert "Ledger replay stall" in shown
    assert "2025-05-04 08:15 UTC" in shown
    assert "Replay worker stalls." in shown
    assert "Bound the replay batch Ledger team Open" in shown
    assert "Page 1 of" in shown  # page numbers


def test_the_pdf_shows_sanitised_markdown_never_the_authors_html():
    html = document_html(
        review_document(
            pdf_review(summary="**Bold** <script>alert(1)</script><iframe src=x></iframe>")
        )
    )
    assert "<strong>Bold</strong>" in html
    assert "<script>alert" not in html
    assert "<iframe" not in html


class _Recorder(BaseHTTPRequestHandler):
    """A local web server that notes every request made to it."""

    seen: list[str] = []

    def do_GET(self):
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.seen
    server.shutdown()
    server.server_close()


def test_images_in_a_review_are_never_fetched(local_server):
    base, seen = local_server
    incident = pdf_review(
        summary=f"![tracking pixel]({base}/markdown.png)",
        narrative=f'<img src="{base}/html.png" alt="raw"> [a link]({base}/link)',
    )
    doc = review_document(incident)
    # The control: the same page rendered with WeasyPrint's own fetcher does reach the
    # server, so an empty log below means Seams refused, not that nothing was there to fetch.
    import weasyprint

    weasyprint.HTML(string=document_html(doc)).write_pdf()
    assert {"/markdown.png", "/html.png"} <= set(seen)
    seen.clear()

    body = review_pdf(incident)
    assert body.startswith(b"%PDF-")
    assert seen == []


@pytest.fixture
def no_weasyprint(monkeypatch):
    """A server without WeasyPrint: importing it fails, as it would if it were missing."""
    monkeypatch.setitem(sys.modules, "weasyprint", None)


def test_without_weasyprint_the_page_answers_503_and_markdown_still_works(no_weasyprint, client):
    incident = pdf_review()
    client.force_login(UserFactory())
    page = client.get(f"/incidents/{incident.pk}/export.pdf")
    assert page.status_code == 503
    assert "PDF export is not available on this server: WeasyPrint is not installed" in (
        page.content.decode()
    )
    assert f'href="/incidents/{incident.pk}/export.md"' in page.content.decode()
    markdown = client.get(f"/incidents/{incident.pk}/export.md")
    assert markdown.status_code == 200
    assert markdown.content.decode().startswith("# Ledger replay stall")


def test_without_weasyprint_the_api_answers_503_in_the_error_shape(no_weasyprint, read_api):
    incident = pdf_review()
    answer = read_api.get(f"/api/v1/incidents/{incident.pk}/export/?format=pdf")
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error["code"] == "export_unavailable"
    assert error["message"].startswith(
        "PDF export is not available on this server: WeasyPrint is not installed"
    )
    assert read_api.get(f"/api/v1/incidents/{incident.pk}/export/?format=md").status_code == 200


def test_a_review_too_intricate_to_print_in_time_answers_503_not_a_hung_worker(
    client, settings, monkeypatch
):
    monkeypatch.setattr("exports.pdf.PRINT_SECONDS", 0.01)
    incident = pdf_review()
    client.force_login(UserFactory())
    page = client.get(f"/incidents/{incident.pk}/export.pdf")
    assert page.status_code == 503
    assert "too long or too intricate to print here" in page.content.decode()


def test_a_printer_without_pango_answers_503_saying_so(client, monkeypatch):
    """The child reports WeasyPrint or Pango missing with its own exit status."""

    def missing(*args, **kwargs):
        return subprocess.CompletedProcess(
            args, MISSING, b"", b"WeasyPrint cannot load Pango (cannot load library 'pango')."
        )

    monkeypatch.setattr("exports.printing.subprocess.run", missing)
    incident = pdf_review()
    client.force_login(UserFactory())
    page = client.get(f"/incidents/{incident.pk}/export.pdf")
    assert page.status_code == 503
    assert (
        "PDF export is not available on this server: WeasyPrint cannot load Pango"
        in page.content.decode()
    )


def test_the_child_exits_with_its_missing_status_when_weasyprint_cannot_load(monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    monkeypatch.setattr("exports.printing._limit_memory", lambda: None)
    with pytest.raises(SystemExit) as ended:
        printing._main()
    assert ended.value.code == MISSING
