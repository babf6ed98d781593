"""The three trackers' APIs, spoken over HTTP: create an issue, find one by Seams' marker,
read one (with its ETag where the tracker has them), close or reopen one, poll for changes,
and read and verify their webhooks.

Every call has a timeout (`TIMEOUT`): a tracker that hangs must not hold a worker. A failure
is a `TrackerError` that says whether trying again later may help (`transient`: the network,
a timeout, 5xx, rate limits) or not (a 4xx: a wrong token, an unknown project).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import requests
from django.utils.dateparse import parse_datetime

from common.encryption import SecretUnreadable, require

from .models import TrackedIssue, TrackerConnection

# (connect, read) seconds; a slow tracker costs a worker at most this long per call.
TIMEOUT = (5, 15)
USER_AGENT = "Seams (action-item tracker sync)"
Remote = TrackedIssue.Remote


class TrackerError(Exception):
    """A call to a tracker failed. `transient`: the same call may work later."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class NotModified(Exception):
    """The tracker answered 304: the issue is as Seams last saw it."""


@dataclass(frozen=True)
class RemoteIssue:
    """What a tracker says about one issue, in Seams' terms."""

    state: str  # TrackedIssue.Remote: open, done, wont_do
    status: str = ""  # the tracker's own name for it ("closed", "Done", "In Review")
    external_id: str = ""
    key: str = ""
    number: int | None = None
    url: str = ""
    updated_at: datetime | None = None
    actor: str = ""
    etag: str = ""


@dataclass(frozen=True)
class Reference:
    """An existing issue someone asked to link: what identifies it in its tracker."""

    key: str
    number: int | None = None


@dataclass(frozen=True)
class NewIssue:
    """What Seams sends when it creates an issue."""

    title: str
    text: str  # plain paragraphs
    link: str  # the review's page in Seams
    marker: str


def _token(connection: TrackerConnection) -> str:
    """The connection's token, read when a call needs it (parsing a reference or verifying
    a webhook does not). A token no configured key can decrypt is refused here with the
    reason, instead of being sent empty and coming back from the tracker as a refused
    credential."""
    try:
        return require(connection.token)
    except SecretUnreadable as error:
        raise TrackerError(
            f"The token of the tracker connection “{connection.name}” cannot be used: {error}. "
            "If SECRET_KEY or SEAMS_ENCRYPTION_KEYS changed, restore the old key, or enter "
            "the token again.",
            transient=False,
        ) from error


def _request(
    method: str,
    url: str,
    *,
    ok: Iterable[int] = (200, 201),
    **kwargs: Any,
) -> requests.Response:
    """One HTTP call with a timeout; any answer other than `ok` (or 304) is a TrackerError."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **kwargs.pop("headers", {})}
    try:
        response = requests.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)
    except requests.Timeout as error:
        raise TrackerError(f"{method} {url} timed out", transient=True) from error
    except requests.RequestException as error:
        raise TrackerError(f"{method} {url} failed: {error}", transient=True) from error
    if response.status_code == 304:
        raise NotModified
    if response.status_code in ok:
        return response
    # Rate limits (429, and GitHub's 403 with no requests left) pass; so do server errors.
    transient = (
        response.status_code >= 500
        or response.status_code == 429
        or (response.status_code == 403 and response.headers.get("X-RateLimit-Remaining") == "0")
    )
    raise TrackerError(
        f"{method} {url} answered {response.status_code}: {_reason(response)}",
        transient=transient,
    )


def _reason(response: requests.Response) -> str:
    """The tracker's own explanation of an error, short."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    if isinstance(body, dict):
        for name in ("message", "errorMessages", "errors"):
            if body.get(name):
                return str(body[name])[:300]
    return str(body)[:200]


def _json(response: requests.Response) -> Any:
    """The answer's JSON; a tracker (or a proxy before it) answering HTML is transient."""
    try:
        return response.json()
    except ValueError as error:
        raise TrackerError(
            f"{response.url} answered something other than JSON", transient=True
        ) from error


def _when(value: Any) -> datetime | None:
    """A tracker's ISO 8601 time, or None."""
    return parse_datetime(value) if isinstance(value, str) else None


def _hmac_ok(secret: str, body: bytes, given: str) -> bool:
    """Whether `given` is the hex HMAC-SHA256 of the body under the secret (constant time).
    Never with no secret (not set, or unreadable): anyone can compute that HMAC."""
    if not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    # Bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
    return hmac.compare_digest(expected, given.strip().lower().encode("utf-8", "replace"))


class WebhookRefused(Exception):
    """A webhook Seams will not act on. `status` 401: unsigned; 403: signed wrongly."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Tracker(Protocol):
    """What Seams asks of every tracker; `GitHub`, `Jira` and `Linear` speak it."""

    def create(self, new: NewIssue) -> RemoteIssue:
        """Create an issue carrying `new.marker`; TrackerError when the tracker refuses."""

    def find(self, marker: str, since: datetime) -> RemoteIssue | None:
        """The issue Seams created with this marker (asked for at `since`), if there is one."""

    def fetch(self, link: TrackedIssue, *, etag: str = "") -> RemoteIssue:
        """The linked issue now; NotModified when `etag` is still its ETag."""

    def parse(self, text: str) -> Reference:
        """An issue's address or key, as typed by a person; ValueError saying what to give."""

    def set_state(self, link: TrackedIssue, state: str) -> RemoteIssue:
        """Close the linked issue (`Remote.DONE`, `Remote.WONT_DO` where the tracker tells
        the two apart) or reopen it (`Remote.OPEN`); the issue as it is afterwards."""

    def webhook(self, headers: Mapping[str, str], body: bytes, data: Any) -> RemoteIssue | None:
        """The issue a (verified) webhook is about; None for events Seams does not follow."""

    def verify(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        """Check the webhook's signature or secret; WebhookRefused (401, 403) otherwise."""


class SearchableTracker(Tracker, Protocol):
    """A tracker polled by one search for what changed (Jira, Linear). GitHub is polled issue
    by issue instead, with ETags, which cost nothing when the issue has not changed."""

    def changed(self, links: list[TrackedIssue], since: datetime | None) -> list[RemoteIssue]:
        """Those of the linked issues updated since `since` (all of them when None)."""


# --- GitHub Issues (REST API v3) ---------------------------------------------------------


class GitHub:
    """GitHub Issues: a repository `owner/name`, a token with Issues read and write."""

    def __init__(self, connection: TrackerConnection) -> None:
        self.connection = connection
        self.base = connection.api_url
        self.repo = connection.project.strip("/")

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Authorization": f"Bearer {_token(self.connection)}",
        }

    def _issue(self, data: Mapping[str, Any], etag: str = "") -> RemoteIssue:
        """A GitHub issue in Seams' terms."""
        if data.get("state") == "closed":
            # "completed" (or no reason, as older closes have) is done; "not_planned" and
            # "duplicate" are closed without being done.
            reason = data.get("state_reason") or "completed"
            state = Remote.DONE if reason == "completed" else Remote.WONT_DO
            status = f"closed ({reason.replace('_', ' ')})"
        else:
            state, status = Remote.OPEN, "open"
        return RemoteIssue(
            state=state,
            status=status,
            external_id=str(data.get("id", "")),
            key=f"#{data['number']}",
            number=int(data["number"]),
            url=str(data.get("html_url", "")),
            updated_at=_when(data.get("updated_at")),
            etag=etag,
        )

    def create(self, new: NewIssue) -> RemoteIssue:
        body = (
            f"{new.text}\n\n[The review in Seams]({new.link})\n\n"
            # Invisible in the rendered issue; how a retry finds this issue again.
            f"<!-- seams:{new.marker} -->"
        )
        response = _request(
            "POST",
            f"{self.base}/repos/{self.repo}/issues",
            headers=self.headers,
            json={"title": new.title, "body": body},
            ok=(201,),
        )
        return self._issue(_json(response), response.headers.get("ETag", ""))

    def find(self, marker: str, since: datetime) -> RemoteIssue | None:
        """The issue carrying the marker, among those updated since `since` (the search API
        is indexed late, so the repository's issues are listed instead)."""
        url = f"{self.base}/repos/{self.repo}/issues"
        params = {
            "state": "all",
            "since": (since - timedelta(minutes=5)).isoformat(),
            "sort": "created",
            "direction": "desc",
            "per_page": 100,
        }
        for page in range(1, 11):  # a busy repository: up to 1,000 issues since the intent
            rows = _json(
                _request("GET", url, headers=self.headers, params={**params, "page": page})
            )
            rows = rows if isinstance(rows, list) else []
            for row in rows:
                if f"seams:{marker}" in (row.get("body") or ""):
                    return self._issue(row)
            if len(rows) < params["per_page"]:
                break
        return None

    def fetch(self, link: TrackedIssue, *, etag: str = "") -> RemoteIssue:
        headers = {**self.headers, **({"If-None-Match": etag} if etag else {})}
        response = _request(
            "GET", f"{self.base}/repos/{self.repo}/issues/{link.number}", headers=headers
        )
        return self._issue(_json(response), response.headers.get("ETag", ""))

    def set_state(self, link: TrackedIssue, state: str) -> RemoteIssue:
        """GitHub closes an issue as completed or as not planned, and reopens it."""
        if state == Remote.OPEN:
            change = {"state": "open"}
        else:
            reason = "not_planned" if state == Remote.WONT_DO else "completed"
            change = {"state": "closed", "state_reason": reason}
        response = _request(
            "PATCH",
            f"{self.base}/repos/{self.repo}/issues/{link.number}",
            headers=self.headers,
            json=change,
        )
        return self._issue(_json(response), response.headers.get("ETag", ""))

    def parse(self, text: str) -> Reference:
        text = text.strip()
        match = re.fullmatch(
            r"(?:https?://[^/]+/(?P<url_repo>[\w.-]+/[\w.-]+)/issues/(?P<url_n>\d+)/?)"
            r"|(?:(?P<repo>[\w.-]+/[\w.-]+))?#?(?P<n>\d+)",
            text,
        )
        if not match:
            raise ValueError(
                "Give the issue's address (https://github.com/owner/repo/issues/12), "
                "owner/repo#12 or its number."
            )
        repo = match["url_repo"] or match["repo"]
        if repo and repo.lower() != self.repo.lower():
            raise ValueError(f"That issue is not in {self.repo}, this connection's repository.")
        number = int(match["url_n"] or match["n"])
        return Reference(key=f"#{number}", number=number)

    def webhook(self, headers: Mapping[str, str], body: bytes, data: Any) -> RemoteIssue | None:
        """The issue an `issues` event is about; None for events Seams does not follow."""
        if headers.get("X-GitHub-Event") != "issues" or not isinstance(data, dict):
            return None
        issue = data.get("issue")
        repo = (data.get("repository") or {}).get("full_name", "")
        if (
            not isinstance(issue, dict)
            or "number" not in issue
            or repo.lower() != self.repo.lower()
        ):
            return None
        remote = self._issue(issue)
        actor = (data.get("sender") or {}).get("login", "")
        return RemoteIssue(**{**remote.__dict__, "actor": str(actor)})

    def verify(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        given = headers.get("X-Hub-Signature-256", "")
        if not given:
            raise WebhookRefused("X-Hub-Signature-256 is missing.", 401)
        if not given.startswith("sha256=") or not _hmac_ok(
            self.connection.webhook_secret, body, given.removeprefix("sha256=")
        ):
            raise WebhookRefused("X-Hub-Signature-256 does not match this webhook's secret.", 403)


# --- Jira Cloud (REST API v3) -------------------------------------------------------------


class Jira:
    """Jira Cloud: a project key, an account's e-mail address and API token (basic auth)."""

    def __init__(self, connection: TrackerConnection) -> None:
        self.connection = connection
        self.base = connection.api_url
        self.project = connection.project.strip().upper()

    @property
    def auth(self) -> tuple[str, str]:
        return (self.connection.username, _token(self.connection))

    def _issue(self, data: Mapping[str, Any]) -> RemoteIssue:
        """A Jira issue in Seams' terms: done is the Done status category, whatever the
        workflow calls its statuses."""
        fields = data.get("fields") or {}
        status = fields.get("status") or {}
        category = (status.get("statusCategory") or {}).get("key", "")
        key = str(data.get("key", ""))
        return RemoteIssue(
            state=Remote.DONE if category == "done" else Remote.OPEN,
            status=str(status.get("name", "")),
            external_id=str(data.get("id", "")),
            key=key,
            url=f"{self.base}/browse/{key}" if key else "",
            updated_at=_when(fields.get("updated")),
        )

    def _search(self, jql: str) -> list[RemoteIssue]:
        """Every issue the JQL finds (the enhanced search, paged by token)."""
        found: list[RemoteIssue] = []
        body: dict[str, Any] = {"jql": jql, "fields": ["status", "updated"], "maxResults": 100}
        for _ in range(50):  # at most 5,000 issues a poll; the next poll goes on
            page = _json(
                _request("POST", f"{self.base}/rest/api/3/search/jql", auth=self.auth, json=body)
            )
            found += [self._issue(row) for row in page.get("issues", [])]
            if page.get("isLast", True) or not page.get("nextPageToken"):
                break
            body["nextPageToken"] = page["nextPageToken"]
        return found

    def create(self, new: NewIssue) -> RemoteIssue:
        description = {
            "type": "doc",
            "version": 1,
            "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": new.text}]},
                {
                    "type": "paragraph",
                    "content": [
                        {
                            "type": "text",
                            "text": "The review in Seams",
                            "marks": [{"type": "link", "attrs": {"href": new.link}}],
                        }
                    ],
                },
            ],
        }
        fields = {
            "project": {"key": self.project},
            "summary": new.title[:255],
            "issuetype": {"name": self.connection.issue_type or "Task"},
            "description": description,
            # Exact-match searchable at once; how a retry finds this issue again.
            "labels": [f"seams-{new.marker}"],
        }
        created = _json(
            _request(
                "POST",
                f"{self.base}/rest/api/3/issue",
                auth=self.auth,
                json={"fields": fields},
                ok=(201,),
            )
        )
        key = str(created.get("key", ""))
        # A new issue starts in the project's first status, which is never "done".
        return RemoteIssue(
            state=Remote.OPEN,
            external_id=str(created.get("id", "")),
            key=key,
            url=f"{self.base}/browse/{key}",
        )

    def find(self, marker: str, since: datetime) -> RemoteIssue | None:
        found = self._search(f'project = "{self.project}" AND labels = "seams-{marker}"')
        return found[0] if found else None

    def fetch(self, link: TrackedIssue, *, etag: str = "") -> RemoteIssue:
        response = _request(
            "GET",
            f"{self.base}/rest/api/3/issue/{link.external_id or link.key}",
            auth=self.auth,
            params={"fields": "status,updated"},
        )
        return self._issue(_json(response))

    def changed(self, links: list[TrackedIssue], since: datetime | None) -> list[RemoteIssue]:
        """The linked issues updated since `since` (all of them when None), by JQL. JQL reads
        absolute times in the account's own time zone, so the window is relative ("-15m")."""
        found: list[RemoteIssue] = []
        keys = [link.key for link in links if link.key]
        window = ""
        if since is not None:
            minutes = int((time.time() - since.timestamp()) // 60) + 5  # overlap, never a gap
            window = f' AND updated >= "-{minutes}m"'
        for start in range(0, len(keys), 100):
            chunk = ", ".join(f'"{key}"' for key in keys[start : start + 100])
            found += self._search(f"key in ({chunk}){window}")
        return found

    def set_state(self, link: TrackedIssue, state: str) -> RemoteIssue:
        """Jira moves an issue only along its workflow's transitions: the first one available
        now that leads into the Done category closes it (Jira has no "closed, not done"
        apart from Done), the first that leads out of it reopens it."""
        issue = f"{self.base}/rest/api/3/issue/{link.external_id or link.key}"
        offered = _json(_request("GET", f"{issue}/transitions", auth=self.auth))
        transitions = offered.get("transitions") if isinstance(offered, dict) else None
        closing = state != Remote.OPEN

        def into_done(transition: dict) -> bool:
            target = transition.get("to") or {}
            return (target.get("statusCategory") or {}).get("key") == "done"

        chosen = next(
            (t for t in transitions or [] if isinstance(t, dict) and into_done(t) == closing),
            None,
        )
        if chosen is None:
            raise TrackerError(
                f"Jira's workflow offers {link.key} no transition "
                f"{'into' if closing else 'out of'} a Done status from where it is now: "
                "move it there in Jira.",
                transient=False,
            )
        _request(
            "POST",
            f"{issue}/transitions",
            auth=self.auth,
            json={"transition": {"id": str(chosen.get("id", ""))}},
            ok=(200, 204),
        )
        return self.fetch(link)

    def parse(self, text: str) -> Reference:
        match = re.fullmatch(
            r"(?:https?://\S+/browse/)?([A-Za-z][A-Za-z0-9_]*-\d+)/?", text.strip()
        )
        if not match:
            raise ValueError("Give the issue's key (OPS-12) or its address (…/browse/OPS-12).")
        key = match[1].upper()
        if key.rpartition("-")[0] != self.project:
            raise ValueError(f"That issue is not in {self.project}, this connection's project.")
        return Reference(key=key)

    def webhook(self, headers: Mapping[str, str], body: bytes, data: Any) -> RemoteIssue | None:
        if not isinstance(data, dict) or not str(data.get("webhookEvent", "")).startswith(
            "jira:issue_"
        ):
            return None
        issue = data.get("issue")
        if not isinstance(issue, dict) or not issue.get("key"):
            return None
        remote = self._issue(issue)
        actor = (data.get("user") or {}).get("displayName", "")
        return RemoteIssue(**{**remote.__dict__, "actor": str(actor)})

    def verify(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        """Jira Cloud signs a webhook that has a secret with `X-Hub-Signature: sha256=…`; a
        webhook made without one (or an automation rule) can carry the secret in the URL
        (`?secret=…`) or in an `X-Seams-Webhook-Secret` header instead."""
        secret = self.connection.webhook_secret
        if not secret:
            raise WebhookRefused("This connection's webhook secret is not set or unreadable.", 403)
        signature = headers.get("X-Hub-Signature", "")
        if signature:
            if signature.startswith("sha256=") and _hmac_ok(
                secret, body, signature.removeprefix("sha256=")
            ):
                return
            raise WebhookRefused("X-Hub-Signature does not match this webhook's secret.", 403)
        given = query.get("secret") or headers.get("X-Seams-Webhook-Secret", "")
        if not given:
            raise WebhookRefused("No signature and no secret: see the webhook's set-up.", 401)
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise WebhookRefused("The secret does not match this webhook's.", 403)


# --- Linear (GraphQL) ---------------------------------------------------------------------

ISSUE_FIELDS = "id identifier url updatedAt state { name type }"


class Linear:
    """Linear: a team key, an API key with read and write access."""

    def __init__(self, connection: TrackerConnection) -> None:
        self.connection = connection
        self.url = f"{connection.api_url}/graphql"
        self.team = connection.project.strip().upper()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": _token(self.connection), "Content-Type": "application/json"}

    def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """One GraphQL call; GraphQL errors (sent with 200 or 400) are TrackerErrors."""
        response = _request(
            "POST",
            self.url,
            headers=self.headers,
            json={"query": query, "variables": variables},
            ok=(200, 400),
        )
        answer = _json(response)
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if errors or response.status_code == 400:
            codes = {str((e.get("extensions") or {}).get("code", "")) for e in errors or []}
            message = "; ".join(str(e.get("message", "")) for e in errors or []) or "bad request"
            raise TrackerError(f"Linear: {message}", transient="RATELIMITED" in codes)
        return answer.get("data") or {}

    def _issue(self, data: Mapping[str, Any]) -> RemoteIssue:
        """A Linear issue in Seams' terms, by its state's type (not its team's name for it)."""
        state = data.get("state") or {}
        kind = state.get("type", "")
        mapped = {"completed": Remote.DONE, "canceled": Remote.WONT_DO}.get(kind, Remote.OPEN)
        return RemoteIssue(
            state=mapped,
            status=str(state.get("name", "")),
            external_id=str(data.get("id", "")),
            key=str(data.get("identifier", "")),
            url=str(data.get("url", "")),
            updated_at=_when(data.get("updatedAt")),
        )

    def create(self, new: NewIssue) -> RemoteIssue:
        teams = self._query(
            "query($key: String!) { teams(filter: {key: {eq: $key}}) { nodes { id } } }",
            {"key": self.team},
        )
        nodes = (teams.get("teams") or {}).get("nodes") or []
        if not nodes:
            raise TrackerError(f"Linear has no team {self.team} for this key.", transient=False)
        data = self._query(
            f"mutation($input: IssueCreateInput!) {{ issueCreate(input: $input) "
            f"{{ success issue {{ {ISSUE_FIELDS} }} }} }}",
            {
                "input": {
                    # The issue's own id is Seams' marker: creating it twice is refused by
                    # Linear rather than making a second issue.
                    "id": new.marker,
                    "teamId": nodes[0]["id"],
                    "title": new.title,
                    "description": f"{new.text}\n\n[The review in Seams]({new.link})",
                }
            },
        )
        issue = (data.get("issueCreate") or {}).get("issue")
        if not issue:
            raise TrackerError("Linear did not create the issue.", transient=True)
        return self._issue(issue)

    def find(self, marker: str, since: datetime) -> RemoteIssue | None:
        data = self._query(
            "query($id: ID!) { issues(filter: {id: {eq: $id}}) "
            f"{{ nodes {{ {ISSUE_FIELDS} }} }} }}",
            {"id": marker},
        )
        nodes = (data.get("issues") or {}).get("nodes") or []
        return self._issue(nodes[0]) if nodes else None

    def fetch(self, link: TrackedIssue, *, etag: str = "") -> RemoteIssue:
        data = self._query(
            f"query($id: String!) {{ issue(id: $id) {{ {ISSUE_FIELDS} }} }}",
            {"id": link.external_id or link.key},
        )
        if not data.get("issue"):
            raise TrackerError(f"Linear has no issue {link.key}.", transient=False)
        return self._issue(data["issue"])

    def changed(self, links: list[TrackedIssue], since: datetime | None) -> list[RemoteIssue]:
        """The linked issues updated since `since` (five minutes of overlap), 100 a call."""
        ids = [link.external_id for link in links if link.external_id]
        found: list[RemoteIssue] = []
        for start in range(0, len(ids), 100):
            issue_filter: dict[str, Any] = {"id": {"in": ids[start : start + 100]}}
            if since is not None:
                issue_filter["updatedAt"] = {"gte": (since - timedelta(minutes=5)).isoformat()}
            data = self._query(
                f"query($filter: IssueFilter) {{ issues(filter: $filter, first: 100) "
                f"{{ nodes {{ {ISSUE_FIELDS} }} }} }}",
                {"filter": issue_filter},
            )
            found += [self._issue(node) for node in (data.get("issues") or {}).get("nodes") or []]
        return found

    def set_state(self, link: TrackedIssue, state: str) -> RemoteIssue:
        """Linear moves an issue to a state of its team: the first (by the team's order) of
        type completed for done, canceled for won't do, and unstarted (else backlog, else
        started) to reopen it."""
        issue_id = link.external_id or link.key
        data = self._query(
            "query($id: String!) { issue(id: $id) { id team { states { nodes "
            "{ id name type position } } } } }",
            {"id": issue_id},
        )
        team = ((data.get("issue") or {}).get("team") or {}).get("states") or {}
        states = sorted(
            (n for n in team.get("nodes") or [] if isinstance(n, dict)),
            key=lambda n: n.get("position") or 0,
        )
        wanted = {
            Remote.DONE: ("completed",),
            Remote.WONT_DO: ("canceled", "completed"),
            Remote.OPEN: ("unstarted", "backlog", "started"),
        }[state]
        chosen = next((n for kind in wanted for n in states if n.get("type") == kind), None)
        if chosen is None:
            raise TrackerError(
                f"Linear's team of {link.key} has no state of type {' or '.join(wanted)}.",
                transient=False,
            )
        changed = self._query(
            f"mutation($id: String!, $input: IssueUpdateInput!) {{ issueUpdate(id: $id, "
            f"input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }} }}",
            {"id": issue_id, "input": {"stateId": chosen["id"]}},
        )
        updated = (changed.get("issueUpdate") or {}).get("issue")
        if not updated:
            raise TrackerError(f"Linear did not change {link.key}.", transient=True)
        return self._issue(updated)

    def parse(self, text: str) -> Reference:
        match = re.fullmatch(
            r"(?:https?://\S+?/issue/)?([A-Za-z][A-Za-z0-9]*-\d+)(?:/[\w-]*)?/?", text.strip()
        )
        if not match:
            raise ValueError("Give the issue's identifier (ENG-12) or its address.")
        key = match[1].upper()
        if key.rpartition("-")[0] != self.team:
            raise ValueError(f"That issue is not in {self.team}, this connection's team.")
        return Reference(key=key)

    def webhook(self, headers: Mapping[str, str], body: bytes, data: Any) -> RemoteIssue | None:
        if not isinstance(data, dict) or data.get("type") != "Issue":
            return None
        issue = data.get("data")
        if not isinstance(issue, dict) or not issue.get("id") or not issue.get("state"):
            return None
        remote = self._issue(issue)
        actor = (data.get("actor") or {}).get("name", "")
        return RemoteIssue(**{**remote.__dict__, "actor": str(actor)})

    def verify(self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]) -> None:
        given = headers.get("Linear-Signature", "")
        if not given:
            raise WebhookRefused("Linear-Signature is missing.", 401)
        if not _hmac_ok(self.connection.webhook_secret, body, given):
            raise WebhookRefused("Linear-Signature does not match this webhook's secret.", 403)


# Linear sends `webhookTimestamp` (ms): an older one is a replay.
LINEAR_MAX_AGE_SECONDS = 300

CLIENTS = {"github": GitHub, "jira": Jira, "linear": Linear}


def client_for(connection: TrackerConnection) -> Tracker:
    """The client that speaks this connection's tracker."""
    return CLIENTS[connection.kind](connection)


def webhook_too_old(connection: TrackerConnection, data: Any, now: float | None = None) -> bool:
    """Whether a (verified) Linear webhook is older than `LINEAR_MAX_AGE_SECONDS`."""
    if connection.kind != "linear" or not isinstance(data, dict):
        return False
    sent = data.get("webhookTimestamp")
    if not isinstance(sent, int | float):
        return False
    return abs((now or time.time()) - sent / 1000) > LINEAR_MAX_AGE_SECONDS
