"""Small trackers for the tracker-sync tests (tests/test_trackers*.py): each keeps issues in
memory and speaks its API over real HTTP through pytest-httpserver, as far as Seams uses it
(GitHub Issues REST v3, Jira Cloud REST v3, Linear GraphQL)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass, field

from django.utils import timezone
from werkzeug import Request, Response

from trackers.models import TrackerConnection


def _json(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {},
                    content_type="application/json")  # fmt: skip


def _now() -> str:
    return timezone.now().isoformat()


def connect(server, kind: str, project: str, **fields) -> TrackerConnection:
    """A connection to the local server."""
    return TrackerConnection.objects.create(
        name=fields.pop("name", f"{kind} {project}"),
        kind=kind,
        base_url=server.url_for("/").rstrip("/"),
        project=project,
        token=fields.pop("token", f"{kind}-token-secret"),
        webhook_secret=fields.pop("webhook_secret", "hook-secret"),
        **fields,
    )


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class FakeGitHub:
    """GitHub's Issues API for one repository. `fail_with` answers every call with that
    status; `lose_create_answers` creates the issue but answers 502 (the answer is lost)."""

    repo: str = "acme/api"
    issues: dict[int, dict] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail_with: int | None = None
    lose_create_answers: int = 0
    tokens: set[str] = field(default_factory=set)

    def install(self, server) -> FakeGitHub:
        base = f"/repos/{self.repo}/issues"
        server.expect_request(base, method="GET").respond_with_handler(self.list)
        server.expect_request(base, method="POST").respond_with_handler(self.create)
        server.expect_request(re.compile(rf"^{base}/\d+$"), method="GET").respond_with_handler(
            self.get
        )
        server.expect_request(re.compile(rf"^{base}/\d+$"), method="PATCH").respond_with_handler(
            self.patch
        )
        return self

    def _seen(self, request: Request) -> Response | None:
        self.requests.append((request.method, request.path))
        self.tokens.add(request.headers.get("Authorization", ""))
        if self.fail_with:
            return _json({"message": "Server Error"}, self.fail_with)
        return None

    def etag(self, issue: dict) -> str:
        return '"' + hashlib.sha1(json.dumps(issue, sort_keys=True).encode()).hexdigest() + '"'

    def list(self, request: Request) -> Response:
        return self._seen(request) or _json(list(reversed(self.issues.values())))

    def create(self, request: Request) -> Response:
        if failed := self._seen(request):
            return failed
        body = request.get_json()
        number = len(self.issues) + 12
        issue = {
            "id": 9000 + number,
            "number": number,
            "title": body["title"],
            "body": body.get("body", ""),
            "state": "open",
            "state_reason": None,
            "html_url": f"https://github.com/{self.repo}/issues/{number}",
            "updated_at": _now(),
        }
        self.issues[number] = issue
        if self.lose_create_answers:
            self.lose_create_answers -= 1
            return _json({"message": "Bad Gateway"}, 502)
        return _json(issue, 201, {"ETag": self.etag(issue)})

    def get(self, request: Request) -> Response:
        if failed := self._seen(request):
            return failed
        number = int(request.path.rsplit("/", 1)[1])
        issue = self.issues.get(number)
        if issue is None:
            return _json({"message": "Not Found"}, 404)
        etag = self.etag(issue)
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return _json(issue, 200, {"ETag": etag})

    def patch(self, request: Request) -> Response:
        """Close (with a reason) or reopen, as GitHub's "update an issue" does."""
        if failed := self._seen(request):
            return failed
        issue = self.issues.get(int(request.path.rsplit("/", 1)[1]))
        if issue is None:
            return _json({"message": "Not Found"}, 404)
        change = request.get_json()
        if change.get("state") == "closed":
            self.close(issue["number"], change.get("state_reason") or "completed")
        elif change.get("state") == "open":
            self.reopen(issue["number"])
        return _json(issue, 200, {"ETag": self.etag(issue)})

    def patches(self) -> list[str]:
        return [path for method, path in self.requests if method == "PATCH"]

    def close(self, number: int, reason: str = "completed") -> dict:
        issue = self.issues[number]
        issue.update(state="closed", state_reason=reason, updated_at=_now())
        return issue

    def reopen(self, number: int) -> dict:
        issue = self.issues[number]
        issue.update(state="open", state_reason="reopened", updated_at=_now())
        return issue

    def event(self, action: str, issue: dict, sender: str = "octocat") -> dict:
        """An `issues` webhook payload, as GitHub sends it."""
        return {
            "action": action,
            "issue": issue,
            "repository": {"full_name": self.repo},
            "sender": {"login": sender},
        }


@dataclass
class FakeJira:
    """Jira Cloud's issue API for one project, with basic auth."""

    project: str = "OPS"
    issues: dict[str, dict] = field(default_factory=dict)
    created: int = 0
    searches: list[str] = field(default_factory=list)
    auth: set[str] = field(default_factory=set)
    moved: list[tuple[str, str]] = field(default_factory=list)

    def install(self, server) -> FakeJira:
        server.expect_request("/rest/api/3/issue", method="POST").respond_with_handler(self.create)
        server.expect_request("/rest/api/3/search/jql", method="POST").respond_with_handler(
            self.search
        )
        issue = r"^/rest/api/3/issue/[^/]+"
        server.expect_request(re.compile(issue + "$"), method="GET").respond_with_handler(self.get)
        server.expect_request(
            re.compile(issue + "/transitions$"), method="GET"
        ).respond_with_handler(self.transitions)
        server.expect_request(
            re.compile(issue + "/transitions$"), method="POST"
        ).respond_with_handler(self.transition)
        return self

    # A small workflow: To Do → In Progress → Done, and Done → To Do again.
    WORKFLOW = {
        "11": {"name": "To Do", "statusCategory": {"key": "new"}},
        "21": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
        "31": {"name": "Done", "statusCategory": {"key": "done"}},
    }
    MOVES = {"To Do": ["21", "31"], "In Progress": ["11", "31"], "Done": ["11"]}

    def _found(self, request: Request) -> dict | None:
        wanted = request.path.split("/rest/api/3/issue/", 1)[1].split("/", 1)[0]
        return next((i for i in self.issues.values() if wanted in (i["id"], i["key"])), None)

    def get(self, request: Request) -> Response:
        issue = self._found(request)
        return _json(issue) if issue else _json({"errorMessages": ["Issue does not exist"]}, 404)

    def transitions(self, request: Request) -> Response:
        issue = self._found(request)
        if issue is None:
            return _json({"errorMessages": ["Issue does not exist"]}, 404)
        now = issue["fields"]["status"]["name"]
        offered = [
            {"id": tid, "name": self.WORKFLOW[tid]["name"], "to": self.WORKFLOW[tid]}
            for tid in self.MOVES.get(now, [])
        ]
        return _json({"transitions": offered})

    def transition(self, request: Request) -> Response:
        issue = self._found(request)
        tid = request.get_json()["transition"]["id"]
        if issue is None or tid not in self.MOVES.get(issue["fields"]["status"]["name"], []):
            return _json({"errorMessages": ["Transition is not valid"]}, 400)
        self.moved.append((issue["key"], self.WORKFLOW[tid]["name"]))
        issue["fields"].update(status=dict(self.WORKFLOW[tid]), updated=_now())
        return Response(status=204)

    def create(self, request: Request) -> Response:
        self.auth.add(request.headers.get("Authorization", ""))
        fields = request.get_json()["fields"]
        self.created += 1
        key = f"{fields['project']['key']}-{len(self.issues) + 7}"
        self.issues[key] = {
            "id": str(10000 + len(self.issues)),
            "key": key,
            "fields": {
                **fields,
                "status": {"name": "To Do", "statusCategory": {"key": "new"}},
                "updated": _now(),
            },
        }
        return _json({"id": self.issues[key]["id"], "key": key, "self": "…"}, 201)

    def search(self, request: Request) -> Response:
        jql = request.get_json()["jql"]
        self.searches.append(jql)
        found = [
            issue
            for issue in self.issues.values()
            if f'"{issue["key"]}"' in jql
            or any(f'labels = "{label}"' in jql for label in issue["fields"].get("labels", []))
        ]
        return _json({"issues": found, "isLast": True})

    def done(self, key: str) -> dict:
        issue = self.issues[key]
        issue["fields"].update(
            status={"name": "Done", "statusCategory": {"key": "done"}}, updated=_now()
        )
        return issue

    @staticmethod
    def basic(email: str, token: str) -> str:
        return "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()


@dataclass
class FakeLinear:
    """Linear's GraphQL API, as far as Seams asks it (teams, issues, issueCreate)."""

    team: str = "ENG"
    issues: dict[str, dict] = field(default_factory=dict)
    creates: int = 0
    keys: set[str] = field(default_factory=set)
    updates: list[tuple[str, str]] = field(default_factory=list)
    # The team's workflow states, by id (Linear orders them by `position` within a type).
    STATES = {
        "s-backlog": {"name": "Backlog", "type": "backlog", "position": 0},
        "s-todo": {"name": "Todo", "type": "unstarted", "position": 1},
        "s-doing": {"name": "In Progress", "type": "started", "position": 2},
        "s-done": {"name": "Done", "type": "completed", "position": 3},
        "s-dup": {"name": "Duplicate", "type": "canceled", "position": 5},
        "s-canceled": {"name": "Canceled", "type": "canceled", "position": 4},
    }

    def install(self, server) -> FakeLinear:
        server.expect_request("/graphql", method="POST").respond_with_handler(self.graphql)
        return self

    def graphql(self, request: Request) -> Response:
        self.keys.add(request.headers.get("Authorization", ""))
        body = request.get_json()
        query, variables = body["query"], body.get("variables") or {}
        if "teams(" in query:
            nodes = [{"id": "team-1"}] if variables["key"] == self.team else []
            return _json({"data": {"teams": {"nodes": nodes}}})
        if "issueCreate" in query:
            given = variables["input"]
            self.creates += 1
            if given["id"] in self.issues:
                return _json({"errors": [{"message": "Entity already exists"}]})
            number = len(self.issues) + 3
            issue = {
                "id": given["id"],
                "identifier": f"{self.team}-{number}",
                "url": f"https://linear.app/acme/issue/{self.team}-{number}/x",
                "title": given["title"],
                "description": given["description"],
                "updatedAt": _now(),
                "state": {"name": "Todo", "type": "unstarted"},
            }
            self.issues[issue["id"]] = issue
            return _json({"data": {"issueCreate": {"success": True, "issue": issue}}})
        if "issueUpdate" in query:
            issue = self.issues.get(variables["id"])
            state = self.STATES.get(variables["input"].get("stateId"))
            if issue is None or state is None:
                return _json({"errors": [{"message": "Entity not found"}], "data": None})
            issue.update(state={"name": state["name"], "type": state["type"]}, updatedAt=_now())
            self.updates.append((issue["identifier"], state["name"]))
            return _json({"data": {"issueUpdate": {"success": True, "issue": issue}}})
        if "team {" in query:
            found = self.issues.get(variables["id"])
            if found is None:
                return _json({"errors": [{"message": "Entity not found"}], "data": None})
            nodes = [{"id": sid, **state} for sid, state in self.STATES.items()]
            return _json({"data": {"issue": {"id": found["id"],
                                             "team": {"states": {"nodes": nodes}}}}})  # fmt: skip
        if "issues(" in query:
            wanted = variables.get("id") or variables.get("filter", {}).get("id", {})
            ids = [wanted] if isinstance(wanted, str) else wanted.get("in") or [wanted.get("eq")]
            return _json({"data": {"issues": {"nodes": [self.issues[i] for i in ids
                                                        if i in self.issues]}}})  # fmt: skip
        if "issue(" in query:
            wanted = variables["id"]
            found = next((i for i in self.issues.values()
                          if wanted in (i["id"], i["identifier"])), None)  # fmt: skip
            if found is None:
                return _json({"errors": [{"message": "Entity not found"}], "data": None})
            return _json({"data": {"issue": found}})
        return _json({"errors": [{"message": "unknown query"}]}, 400)

    def complete(self, issue_id: str) -> dict:
        issue = self.issues[issue_id]
        issue.update(state={"name": "Done", "type": "completed"}, updatedAt=_now())
        return issue

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())
