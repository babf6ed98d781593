"""Who gets an export, from the review page and from the API, and what the answers look like."""

from __future__ import annotations

import pytest

from exports.views import file_name
from incidents import services
from incidents.models import Incident

from .conftest import token_client
from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def restricted():
    """A review restricted to the security group, its member and an outsider."""
    group = GroupFactory(name="security")
    member, outsider = UserFactory(username="member"), UserFactory(username="outsider")
    member.groups.add(group)
    incident = services.incident_create(
        by=member,
        content=services.ReviewContent(
            fields={"title": "Key leak in build logs", "summary": "Rotated.",
                    "restricted_to": group}
        ),
    )  # fmt: skip
    return incident, member, outsider


def test_the_review_page_offers_both_exports(client, restricted):
    incident, member, _ = restricted
    client.force_login(member)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'href="/incidents/{incident.pk}/export.md" download>Export as Markdown' in page
    assert f'href="/incidents/{incident.pk}/export.pdf" download>Export as PDF' in page


@pytest.mark.parametrize(("ext", "content_type"), [("md", "text/markdown"),
                                                    ("pdf", "application/pdf")])  # fmt: skip
def test_a_member_downloads_the_restricted_review(client, restricted, ext, content_type):
    incident, member, _ = restricted
    client.force_login(member)
    response = client.get(f"/incidents/{incident.pk}/export.{ext}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert response["Content-Disposition"] == (
        f'attachment; filename="key-leak-in-build-logs-{incident.pk}.{ext}"'
    )
    assert response["Cache-Control"] == "private, no-store"


def test_the_markdown_warns_that_the_review_is_restricted(client, restricted):
    incident, member, _ = restricted
    client.force_login(member)
    body = client.get(f"/incidents/{incident.pk}/export.md").content.decode()
    assert "> **Restricted** to the security group in Seams" in body


@pytest.mark.parametrize("ext", ["md", "pdf"])
def test_an_outsider_gets_the_same_404_as_for_no_review(client, restricted, ext):
    incident, _, outsider = restricted
    client.force_login(outsider)
    hidden = client.get(f"/incidents/{incident.pk}/export.{ext}")
    unknown = client.get(f"/incidents/{incident.pk + 1000}/export.{ext}")
    assert hidden.status_code == unknown.status_code == 404
    assert "Key leak" not in hidden.content.decode()


def test_someone_not_logged_in_is_sent_to_log_in(client, restricted):
    incident, _, _ = restricted
    response = client.get(f"/incidents/{incident.pk}/export.pdf")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("fmt", ["md", "pdf"])
def test_api_read_token_of_a_member_gets_the_file(restricted, fmt):
    incident, member, _ = restricted
    api = token_client(member, "read")
    # A PDF reader's Accept header changes nothing: `format` picks the file.
    response = api.get(
        f"/api/v1/incidents/{incident.pk}/export/?format={fmt}", HTTP_ACCEPT="application/pdf"
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; filename=")
    body = response.content
    assert body.startswith(b"%PDF-") if fmt == "pdf" else body.startswith(b"# Key leak")


@pytest.mark.parametrize("fmt", ["md", "pdf"])
def test_api_outsider_gets_the_same_404_as_for_no_review(restricted, fmt):
    incident, _, outsider = restricted
    api = token_client(outsider, "read")
    hidden = api.get(f"/api/v1/incidents/{incident.pk}/export/?format={fmt}")
    unknown = api.get(f"/api/v1/incidents/{incident.pk + 1000}/export/?format={fmt}")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == unknown.json()
    assert hidden.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("query", ["", "?format=docx", "?format=", "?format=PDF"])
def test_api_refuses_a_format_it_does_not_export_to(restricted, query):
    incident, member, _ = restricted
    response = token_client(member, "read").get(f"/api/v1/incidents/{incident.pk}/export/{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"]["format"] == [
        "Say which format to export: `format=md` (Markdown) or `format=pdf` (PDF)."
    ]


def test_api_without_a_token_is_refused(client, restricted):
    incident, _, _ = restricted
    response = client.get(f"/api/v1/incidents/{incident.pk}/export/?format=md")
    assert response.status_code == 401


def test_the_schema_documents_the_export(read_api):
    schema = read_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/incidents/{id}/export/"]["get"]
    (fmt,) = [p for p in operation["parameters"] if p["name"] == "format"]
    assert fmt["required"] is True
    assert fmt["schema"]["enum"] == ["md", "pdf"]
    ok = operation["responses"]["200"]["content"]
    assert ok["text/markdown"]["schema"] == {"type": "string"}
    assert ok["application/pdf"]["schema"] == {"type": "string", "format": "binary"}
    assert {"400", "401", "404", "503"} <= set(operation["responses"])


def test_file_names_are_cut_between_words_and_never_empty():
    long = Incident(pk=6, title="Cloudflare Bot Management: a database permission change " * 2)
    assert file_name(long, "pdf") == (
        "cloudflare-bot-management-a-database-permission-change-cloudflare-bot-management-6.pdf"
    )
    assert file_name(Incident(pk=7, title="障害"), "md") == "review-7.md"
