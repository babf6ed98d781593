"""The recurrences page, a structure's page and their API: filters, sort, pagination, what a
structure's page shows, what a reader outside a restricted review's group never sees, no
internal code in the HTML, and a query count that does not grow with the members.

Structures are written here as rows (the analysis derives them; its definition has tests of
its own), so each test states exactly the members, dates and actions it reads.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.analysis.recurrence import recompute_all
from incidents.models import ActionItem, Component, PatternLink, RecurringStructure
from incidents.structure_page import resembles
from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

from .conftest import token_client
from .factories import GroupFactory, IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db

MARK = "quokka"
EXPIRY = "unowned-expiry"
# Codes that must never reach a page: action kinds and statuses, severities, structure kinds.
CODES = [
    "structural_fix", "component_patch", "structuralfix", "componentpatch", "in_progress",
    "wont_do", "sev1", "sev2", "sev3", "sev4", "unowned-expiry", "pattern:", "pair:",
]  # fmt: skip


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def _component(name: str) -> Component:
    return Component.objects.get_or_create(
        slug=name.lower().replace(" ", "-"), defaults={"name": name}
    )[0]


def _incident(title, day, *, hours=2, severity="sev3", components=(), shapes=(), patterns=(),
              **fields):  # fmt: skip
    """An incident showing `patterns` (linked by an author), reviewed five days after it
    began (an undated one: reviewed now)."""
    start = _at(day) if day else None
    incident = IncidentFactory(
        title=title,
        started_at=start,
        resolved_at=start + timedelta(hours=hours) if start else None,
        severity=severity,
        **({"created_at": start + timedelta(days=5)} if start else {}),
        **fields,
    )
    incident.components.set([_component(c) for c in components])
    incident.shapes.set(EmergentShape.objects.filter(slug__in=shapes))
    for slug in patterns:
        PatternLink.objects.create(
            incident=incident,
            pattern=StructuralPattern.objects.get(slug=slug),
            rationale="It shows it.",
        )
    return incident


def _action(incident, title, *, kind="structural_fix", status="done", done=None, level=None,
            pattern="unowned-expiry"):  # fmt: skip
    return ActionItem.objects.create(
        incident=incident,
        title=title,
        kind=kind,
        status=status,
        completed_at=_at(done) if done else None,
        leverage_level=LeverageLevel.objects.get(number=level) if level else None,
        pattern=StructuralPattern.objects.get(slug=pattern) if pattern else None,
    )


def _structure(slug: str) -> RecurringStructure:
    """The structures as the analysis derives them; the one of this pattern."""
    recompute_all()
    return RecurringStructure.objects.get(signature=f"pattern:{slug}")


@pytest.fixture
def people():
    group = GroupFactory(name="security")
    member, outsider = UserFactory(username="member"), UserFactory(username="outsider")
    member.groups.add(group)
    return group, member, outsider


@pytest.fixture
def expiry(people):
    """Expiries: two dated open members, one undated, one restricted between them."""
    group, _, _ = people
    first = _incident("Edge outage in January", "2024-01-10", hours=3, severity="sev2",
                      components=["Edge proxy"], users_affected_count=100,
                      patterns=[EXPIRY])  # fmt: skip
    _action(first, "Keep an inventory of expiring certificates with owners", done="2024-02-01",
            level=6)  # fmt: skip
    _action(first, "Renew the edge certificate", kind="component_patch", done="2024-01-11")
    second = _incident("Billing down in June", "2024-06-01", hours=1, severity="sev1",
                       components=["Edge proxy", "Billing"], patterns=[EXPIRY])  # fmt: skip
    _action(second, "Write a runbook for certificate renewal", status="in_progress", level=8)
    _incident("Signer stopped, date not given", None, severity="unknown",
              components=["Signer"], patterns=[EXPIRY])  # fmt: skip
    secret = _incident(f"{MARK}title vault stopped", "2024-03-01", severity="sev4",
                       components=[f"{MARK.capitalize()}vault"], restricted_to=group,
                       users_affected_count=4242, patterns=[EXPIRY])  # fmt: skip
    _action(secret, f"{MARK} action", status="open")
    return _structure(EXPIRY)


def _text(html: str) -> str:
    """What a reader reads: the page without its tags, scripts and styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def assert_no_codes(html: str) -> None:
    shown = _text(html)  # codes are lower case; "SEV2 — major" is a label
    for code in CODES:
        assert code not in shown, code
    # Kinds never appear even in attributes (no filter takes them).
    for code in ("structural_fix", "component_patch", "structuralfix", "componentpatch"):
        assert code not in html.lower(), code


# --- a structure's page ---------------------------------------------------------------------


def test_the_structure_page_shows_members_components_actions_and_fixes(client, people, expiry):
    _, _, outsider = people
    client.force_login(outsider)
    html = client.get(f"/recurrences/{expiry.pk}/").content.decode()
    text = _text(html)
    assert "Expiry no one owns" in text
    # Dated members in time order, the undated one apart.
    assert text.index("Edge outage in January") < text.index("Billing down in June")
    unknown = text.index("Date unknown")
    assert text.index("Signer stopped") > unknown > text.index("Billing down in June")
    # Components with the number of members behind each, linked to those members.
    assert re.search(r"Edge proxy\s+2", text)
    assert re.search(r"Billing\s+1", text)
    assert f'href="/recurrences/{expiry.pk}/?component=edge-proxy#members"' in html
    # Action items with labels: kind, leverage level, status.
    assert "Structural fix" in text
    assert "Component patch" in text
    assert "6. Information flows" in text
    assert "In progress" in text
    # The second member came back after the first one's remediation was done.
    came_back = text[text.index("What was tried") :]
    assert "Billing down in June" in came_back
    assert "Keep an inventory of expiring certificates with owners" in came_back
    assert "Came back despite remediation" in text
    # The catalogue's fixes: the inventory one was tried, the other two not yet.
    fixes = text[text.index("Structural fixes from the catalogue") :]
    untried, tried = fixes.split("Already tried")
    assert "Automate renewal" in untried
    assert "Shorten validity periods" in untried
    assert "Keep an inventory of everything that expires" in tried
    # Figures over what this reader may see: 3 members, SEV2 3 h x 4 + SEV1 1 h x 10.
    assert re.search(r"Members\s+3\b", text)
    assert re.search(r"Severity-weighted incident-hours\s+22\b", text)
    assert re.search(r"Users affected\s+100\b", text)
    assert_no_codes(html)


def test_narrowing_the_time_line_to_a_figures_members(client, people, expiry):
    client.force_login(people[2])
    text = _text(client.get(f"/recurrences/{expiry.pk}/?component=billing").content.decode())
    members = text[text.index("Members on a time line") : text.index("Components it went")]
    assert "Billing down in June" in members
    assert "Edge outage in January" not in members
    assert "Show every member" in members
    text = _text(client.get(f"/recurrences/{expiry.pk}/?only=recurred").content.decode())
    members = text[text.index("Members on a time line") : text.index("Components it went")]
    assert "Billing down in June" in members
    assert "Signer stopped" not in members


def test_an_outsider_never_sees_the_restricted_member(client, people, expiry):
    _, member, outsider = people
    for user, sees in ((outsider, False), (member, True)):
        client.force_login(user)
        page = client.get(f"/recurrences/{expiry.pk}/").content.decode()
        listing = client.get("/recurrences/").content.decode()
        api = token_client(user, "read")
        detail = api.get(f"/api/v1/recurrences/{expiry.pk}/")
        rows = api.get("/api/v1/recurrences/").json()["results"]
        for body in (page, listing, detail.content.decode(), str(rows)):
            assert (MARK in body.lower()) is sees
        data = detail.json()
        assert data["incident_count"] == (4 if sees else 3)
        assert rows[0]["incident_count"] == (4 if sees else 3)
        assert data["users_affected"] == (4342 if sees else 100)
        assert {c["name"] for c in data["components"]} >= {"Edge proxy", "Billing", "Signer"}
        assert (f"{MARK.capitalize()}vault" in {c["name"] for c in data["components"]}) is sees


def test_a_structure_with_one_visible_member_is_not_found(client, people):
    group, member, outsider = people
    _incident("Queue backed up", "2024-02-01", patterns=["retry-amplification"])
    _incident(f"{MARK} queue", "2024-03-01", restricted_to=group,
              patterns=["retry-amplification"])  # fmt: skip
    structure = _structure("retry-amplification")
    client.force_login(outsider)
    assert client.get(f"/recurrences/{structure.pk}/").status_code == 404
    assert client.get("/recurrences/999999/").status_code == 404
    api = token_client(outsider, "read")
    assert api.get(f"/api/v1/recurrences/{structure.pk}/").status_code == 404
    # The same answer as for a structure that does not exist.
    missing = api.get("/api/v1/recurrences/999999/")
    assert missing.status_code == 404
    assert api.get(f"/api/v1/recurrences/{structure.pk}/").json() == missing.json()
    assert api.get("/api/v1/recurrences/99999999999999999999/").status_code == 404
    client.force_login(member)
    assert client.get(f"/recurrences/{structure.pk}/").status_code == 200


def test_the_api_detail_lists_members_components_actions_and_untried_fixes(people, expiry):
    data = token_client(people[2], "read").get(f"/api/v1/recurrences/{expiry.pk}/").json()
    assert data["name"] == "Expiry no one owns"
    assert data["kind"] == "pattern"
    assert data["kind_label"] == "Pattern"
    assert [m["title"] for m in data["members"]] == [
        "Edge outage in January",
        "Billing down in June",
        "Signer stopped, date not given",
    ]
    assert data["members"][2]["started_at"] is None
    assert data["members"][2]["weighted_hours"] is None
    assert data["members"][1]["after_remediation"] is True
    assert data["components"][0] == {"slug": "edge-proxy", "name": "Edge proxy", "incidents": 2}
    statuses = {a["title"]: (a["kind_label"], a["status_label"]) for a in data["action_items"]}
    assert statuses["Write a runbook for certificate renewal"] == ("Structural fix", "In progress")
    inventory = next(a for a in data["action_items"] if a["title"].startswith("Keep"))
    assert inventory["leverage_level"] == {
        "number": 6,
        "slug": "information-flows",
        "name": "Information flows",
    }
    untried = [f["text"].split()[0] for f in data["untried_fixes"]]
    assert untried == ["Automate", "Shorten"]
    assert data["tried_fixes"][0]["tried_by"] == [inventory["id"]]
    (came_back,) = data["came_back_after_remediation"]
    assert came_back["previous"] == data["members"][0]["id"]
    assert data["weighted_hours"] == 22.0
    assert data["weighted_hours_unknown"] == 1


def _grow(structure: RecurringStructure, n: int) -> None:
    """`n` more dated members, each with a component and an action item of its own."""
    for i in range(n):
        incident = _incident(f"Grown {i}", f"2024-07-{i + 1:02d}", components=[f"Part {i}"],
                             patterns=[EXPIRY])  # fmt: skip
        _action(incident, f"Action {i}", level=5)
    assert _structure(EXPIRY).pk == structure.pk


def test_the_structure_page_and_detail_cost_the_same_queries_whatever_the_members(
    client, people, expiry, django_assert_max_num_queries
):
    _, _, outsider = people
    client.force_login(outsider)
    api = token_client(outsider, "read")
    api.get("/api/v1/")  # the token's first use of the minute is recorded: not counted

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as page:
            assert client.get(f"/recurrences/{expiry.pk}/").status_code == 200
        with CaptureQueriesContext(connection) as detail:
            assert api.get(f"/api/v1/recurrences/{expiry.pk}/").status_code == 200
        return len(page), len(detail)

    few = count()
    _grow(expiry, 30)
    assert count() == few
    # The session and user; the structure and its patterns; the members hidden from this
    # reader (and, once, the structure judged over the others); a page of members, their
    # components, the components' totals; a page of action items; what came back after
    # remediation (how many, the latest, the incidents before them, their done items); the
    # catalogue fixes tried (titles counted, the first items of each); on the page, the
    # reader's permissions for the menu (2).
    with django_assert_max_num_queries(20):
        client.get(f"/recurrences/{expiry.pk}/")
    with django_assert_max_num_queries(18):
        api.get(f"/api/v1/recurrences/{expiry.pk}/")


def _grow_over_months(n: int) -> None:
    """`n` more dated members, one a day from August 2024, each with an action item."""
    start = _at("2024-08-01")
    for i in range(n):
        day = (start + timedelta(days=i)).date().isoformat()
        incident = _incident(f"Grown {i:02d}", day, patterns=[EXPIRY])
        _action(incident, f"Action {i:02d}", level=5)


def test_a_structure_larger_than_a_page_is_read_a_page_at_a_time(client, people, expiry):
    _, _, outsider = people
    _grow_over_months(60)
    structure = _structure(EXPIRY)
    client.force_login(outsider)
    api = token_client(outsider, "read")

    # 63 members the outsider may see: 50 on the first page in time order, 13 on the next.
    def members(query: str = "") -> str:
        html = client.get(f"/recurrences/{structure.pk}/{query}").content.decode()
        return _text(html.split('id="members"')[1].split('id="components"')[0])

    first = members()
    assert "Members 1–50 of 63" in first
    assert "Edge outage in January" in first
    assert "Grown 47" in first
    assert "Grown 48" not in first
    second = members("?page=2")
    assert "Grown 48" in second
    assert "Grown 59" in second
    assert "Signer stopped, date not given" in second  # undated last
    assert "Edge outage in January" not in second
    assert MARK not in first + second

    detail = api.get(f"/api/v1/recurrences/{structure.pk}/", {"page": 2}).json()
    assert detail["incident_count"] == 63
    assert (detail["members_page"], detail["members_pages"]) == (2, 2)
    assert [m["title"] for m in detail["members"]][-1] == "Signer stopped, date not given"
    assert len(detail["members"]) == 13
    # The open members' 3 action items and the 60 grown ones; the secret's never.
    assert detail["action_items_count"] == 63
    actions = api.get(f"/api/v1/recurrences/{structure.pk}/", {"actions_page": 2}).json()
    assert len(actions["action_items"]) == 13
    assert MARK not in str(detail) + str(actions)
    assert api.get(f"/api/v1/recurrences/{structure.pk}/", {"page": 3}).status_code == 404
    bad = api.get(f"/api/v1/recurrences/{structure.pk}/", {"page": "two"})
    assert bad.status_code == 400
    assert "whole number" in json.dumps(bad.json()["error"])

    # The list gives each structure's latest ten members, in time order, and the count.
    [row] = api.get("/api/v1/recurrences/").json()["results"]
    assert row["incident_count"] == 63
    assert [m["title"] for m in row["incidents"]] == [f"Grown {i:02d}" for i in range(50, 60)]


def test_a_catalogue_fix_counts_as_tried_only_when_an_action_reads_like_it():
    fix = "Keep an inventory of everything that expires, with its owner, its consumers and its date"
    assert resembles("Inventory of expiring certificates with owners", fix)
    assert not resembles("Renew the certificate", fix)
    assert not resembles("Keep calm", fix)
    assert resembles("Add circuit breakers to the payments client", "Add circuit breakers and "
                     "load shedding so an overloaded service fails fast")  # fmt: skip


# --- the recurrences list: filters, sort, pagination ---------------------------------------


@pytest.fixture
def several(people):
    """Structures that differ in one thing each, for each filter and sort."""
    group, _, _ = people
    recent = (timezone.now() - timedelta(days=10)).date().isoformat()
    retry, alerts, slack = "retry-amplification", "alert-fatigue", "slack-erosion"
    # Costly, old, recurred despite remediation.
    first = _incident("Storm one", "2021-01-01", hours=10, severity="sev1", components=["Gateway"],
                      shapes=["cascade"], patterns=[retry])  # fmt: skip
    _action(first, "Retry budget per client", done="2021-01-20", pattern=retry)
    _incident("Storm two", "2021-05-01", hours=10, severity="sev1", components=["Gateway"],
              shapes=["cascade"], patterns=[retry])  # fmt: skip
    # Cheap, recent, three recurrences.
    for n, day in enumerate(["2023-01-01", "2023-06-01", "2024-01-01", recent]):
        _incident(f"Flood {n}", day, hours=1, severity="sev4", components=["Pager"],
                  patterns=[alerts])  # fmt: skip
    # Middle cost; a restricted member is the only SEV2 and the only "Vault" component.
    _incident("Saturated", "2022-01-01", hours=5, components=["Queue"], patterns=[slack])
    _incident("Saturated again", "2022-03-01", hours=5, components=["Queue"], patterns=[slack])
    _incident(f"{MARK} queue", "2022-02-01", severity="sev2", restricted_to=group,
              components=[f"{MARK.capitalize()}vault"], patterns=[slack])  # fmt: skip
    recompute_all()
    return {
        key: RecurringStructure.objects.get(signature=f"pattern:{slug}")
        for key, slug in (("costly", retry), ("recent", alerts), ("middle", slack))
    }


def _names(client, query: str = "") -> list[str]:
    html = client.get(f"/recurrences/{query}").content.decode()
    assert_no_codes(html)
    return re.findall(r'<h3><a href="/recurrences/\d+/">([^<]+)</a></h3>', html)


def _api_names(api, **params) -> list[str]:
    response = api.get("/api/v1/recurrences/", params)
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


def test_ranked_by_cost_despite_remediation_first_and_sortable(client, people, several):
    client.force_login(people[2])
    api = token_client(people[2], "read")
    retry, alerts, slack = (several[k].name for k in ("costly", "recent", "middle"))
    assert _names(client) == [retry, slack, alerts] == _api_names(api)
    assert _names(client, "?sort=last") == [alerts, slack, retry]
    assert _api_names(api, sort="recurrences")[:2] == [retry, alerts]


def test_each_filter_on_the_page_and_the_api(client, people, several):
    client.force_login(people[2])
    api = token_client(people[2], "read")
    retry, alerts, slack = (several[k].name for k in ("costly", "recent", "middle"))
    cases = [
        ({"window": "90d"}, [alerts]),
        ({"window": "all"}, [retry, slack, alerts]),
        ({"shape": "cascade"}, [retry]),
        ({"pattern": "slack-erosion"}, [slack]),
        ({"component": "gateway"}, [retry]),
        ({"severity": "sev4"}, [alerts]),
        ({"despite_remediation": "true"}, [retry]),
        ({"despite_remediation": "false"}, [slack, alerts]),
        # Only the restricted member has these: nothing, as for an unknown component.
        ({"severity": "sev2"}, []),
        ({"component": f"{MARK}vault"}, []),
        ({"component": "no-such-part"}, []),
    ]
    for params, expected in cases:
        query = "?" + "&".join(f"{k}={v}" for k, v in params.items())
        assert _names(client, query) == expected, params
        assert _api_names(api, **params) == expected, params
    # The member finds the structure by its restricted member's severity.
    member = token_client(people[1], "read")
    assert _api_names(member, severity="sev2") == [slack]


def test_an_empty_or_unknown_filter_value(client, people, several):
    client.force_login(people[2])
    api = token_client(people[2], "read")
    for name in ("window", "shape", "pattern", "severity", "sort", "despite_remediation"):
        response = api.get(f"/api/v1/recurrences/?{name}=")
        assert response.status_code == 400, name
        assert name in str(response.json()["error"]), name
    assert api.get("/api/v1/recurrences/?despite_remediation=maybe").status_code == 400
    assert api.get("/api/v1/recurrences/?window=5y").status_code == 400
    # A form left at "any" sends empty values: the page ignores them.
    assert len(_names(client, "?shape=&severity=&window=all")) == 3
    page = client.get("/recurrences/?window=5y").content.decode()
    assert "could not be used" in page


def test_pagination_keeps_the_filters(client, people):
    client.force_login(people[2])
    slugs = list(StructuralPattern.objects.order_by("slug").values_list("slug", flat=True))[:21]
    for slug in slugs:
        for n, day in enumerate(["2023-01-01", "2023-02-01"]):
            _incident(f"{slug} {n}", day, components=["Edge"], patterns=[slug])
    recompute_all()
    assert RecurringStructure.objects.filter(signature__startswith="pattern:").count() == 21
    first_page = client.get("/recurrences/?component=edge&sort=last").content.decode()
    assert len(re.findall(r'class="card structure-card"', first_page)) == 20
    assert "Page 1 of 2" in first_page
    assert 'href="?component=edge&amp;sort=last&amp;page=2"' in first_page
    second = client.get("/recurrences/?component=edge&sort=last&page=2").content.decode()
    assert len(re.findall(r'class="card structure-card"', second)) == 1
    api = token_client(people[2], "read")
    rows = api.get("/api/v1/recurrences/", {"page_size": 10, "component": "edge"}).json()
    assert len(rows["results"]) == 10
    assert "component=edge" in rows["next"]


def test_cards_show_the_figures_with_links_and_unknown_users(client, people, several):
    client.force_login(people[2])
    html = client.get("/recurrences/").content.decode()
    cards = html.split('class="card structure-card"')[1:]
    retry = next(c for c in cards if "Retry amplification" in c)
    pk = several["costly"].pk
    assert "Recurred despite remediation" in retry
    assert f'href="/recurrences/{pk}/#members">2</a>' in retry  # members
    assert f'href="/recurrences/{pk}/?only=recurred#members">1</a>' in retry  # recurrences
    assert f'href="/recurrences/{pk}/#members">200</a>' in retry  # 2 x 10 h x SEV1
    assert re.search(r"Users affected</dt><dd>unknown", retry)
    assert re.search(r"Last seen \d+\s+years?, \d+\s+months? ago", _text(retry))


def test_the_list_costs_the_same_queries_with_more_structures(client, people, several):
    client.force_login(people[2])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            client.get("/recurrences/?sort=cost")
        return len(queries)

    few = count()
    for n in range(2):
        for day in ("2023-01-01", "2023-02-01"):
            _incident(f"More {n} {day}", day, patterns=[["metric-myopia", "automation-irony"][n]])
    recompute_all()
    assert RecurringStructure.objects.count() == 5
    assert count() == few
