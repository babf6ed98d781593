"""Materialise the held-out post-mortem set as a corpus folder in the import format.

The set is described by `manifest.json` (next to this file): one entry per write-up, naming
the public repository, the commit and the path of the file that holds it. Nothing of the
write-ups themselves is kept in the project; this script reads them from local copies of
those repositories and writes one Markdown file per write-up, with the front matter Seams'
importer reads (uuid, url, title, company, product, summary, optional start_time) followed
by the write-up's text with its own front matter, HTML and comments removed.

    python bench/similarity/heldout/build.py --sources SOURCES --out DIR [--inject-template]

SOURCES holds one git directory per repository, named `owner+name`: a bare clone
(`git clone --bare https://github.com/owner/name SOURCES/owner+name`), a normal clone, or a
folder with the git directory in `repo/` inside it. No network access is needed.

`--inject-template` writes a variant in which every write-up of an organisation opens and
closes with the same boilerplate paragraphs (different per organisation, naming it), the way
status-page templates do; the summary is then taken from the templated text, so it starts
with the boilerplate, as it would on a status page.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.json"
SUMMARY_LIMIT = 600
# A paragraph shorter than this is metadata ("Time to repair: 0h 30m"), not prose.
MIN_SUMMARY_PARAGRAPH = 60

# Boilerplate for --inject-template: (opening, closing) per organisation, written for this
# set; `{company}` is filled in for organisations not listed here.
TEMPLATES: dict[str, tuple[str, str]] = {
    "Ministry of Justice": (
        "The Ministry of Justice Cloud Platform team apologises to every service team whose "
        "users were affected by this incident. This report sets out what happened, the impact "
        "on services hosted on the platform and the actions we are taking.",
        "The Ministry of Justice Cloud Platform team is committed to running a reliable "
        "platform for the justice system. Every incident is reviewed, and the review actions "
        "above are tracked to completion on our public issue board.",
    ),
    "rust-lang": (
        "The Rust project's infrastructure teams are sorry for the disruption this caused to "
        "Rust users and to the crates ecosystem. Below we explain what happened and what we "
        "have changed as a result.",
        "The Rust project is committed to keeping its tools and services dependable for "
        "everyone who builds with Rust. Thank you for your patience and for the reports that "
        "helped us find the problem.",
    ),
    "Kubernetes": (
        "The Kubernetes SIG Testing on-call team apologises to all contributors whose pull "
        "requests and test jobs were held up by this incident. This post-mortem describes the "
        "impact, the cause and the follow-up work.",
        "The Kubernetes project is committed to a CI system that contributors can rely on. "
        "Follow-up items from this review are tracked as issues in the test-infra repository.",
    ),
    "2i2c": (
        "2i2c apologises to the communities whose hubs were affected by this incident and to "
        "their users. This report summarises what happened, how we responded and what we are "
        "doing to prevent a recurrence.",
        "2i2c is committed to running reliable, community-owned interactive computing "
        "infrastructure. We review every incident with the affected community and track "
        "follow-up improvements in our infrastructure repository.",
    ),
    "PyPI": (
        "The PyPI administrators and the Python Software Foundation take the security and "
        "availability of the Python Package Index seriously, and we apologise to the users "
        "and maintainers affected by this incident.",
        "PyPI is committed to transparency about incidents affecting the Python Package Index. "
        "If you have questions or believe you are affected, contact security@pypi.org.",
    ),
    "Hex": (
        "The Hex team apologises to everyone in the Elixir and Erlang community who was "
        "affected by this incident. Here is what happened and what we have changed.",
        "Hex is committed to providing package infrastructure the BEAM community can depend "
        "on, and we will keep publishing reports like this one when things go wrong.",
    ),
    "Homebrew": (
        "The Homebrew maintainers apologise for this incident and thank the people who "
        "reported it responsibly. This disclosure explains what was affected and what we did.",
        "Homebrew is committed to the security of the packages our users install, and we will "
        "continue to disclose incidents openly.",
    ),
}
DEFAULT_TEMPLATE = (
    "{company} apologises to everyone affected by this incident. This report explains what "
    "happened, its impact and the actions we are taking.",
    "{company} is committed to learning from every incident and to preventing a recurrence.",
)


@dataclass(frozen=True)
class Entry:
    """One write-up of the manifest: where its text lives and how to label it."""

    uuid: str
    repo: str
    commit: str
    path: str
    url: str
    title: str
    company: str
    product: str
    start_time: str


def load_manifest(path: Path = MANIFEST) -> list[Entry]:
    """Read the manifest's documents as entries, in manifest order."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        Entry(
            uuid=doc["uuid"],
            repo=doc["repo"],
            commit=doc["commit"],
            path=doc["path"],
            url=doc["url"],
            title=doc["title"],
            company=doc["company"],
            product=doc.get("product", ""),
            start_time=doc.get("start_time", ""),
        )
        for doc in data["documents"]
    ]


def git_dir(sources: Path, repo: str) -> Path:
    """The git directory for `owner/name` under `sources` (bare, clone, or `repo/` inside)."""
    base = sources / repo.replace("/", "+")
    for candidate in (base / "repo", base / ".git", base):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    raise FileNotFoundError(f"no git directory for {repo} under {sources} (expected {base})")


def read_blob(sources: Path, entry: Entry) -> str:
    """The text of the entry's file at its pinned commit."""
    result = subprocess.run(
        [
            "git",
            "--git-dir",
            str(git_dir(sources, entry.repo)),
            "show",
            f"{entry.commit}:{entry.path}",
        ],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise FileNotFoundError(f"{entry.repo}@{entry.commit[:12]}:{entry.path}: {message}")
    return result.stdout.decode("utf-8", "replace")


_FRONT_MATTER = re.compile(r"\A(?:---\s*\n.*?\n---|\+\+\+\s*\n.*?\n\+\+\+)\s*\n", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
# A tag name followed by attributes or the end; `<security@example.org>` is an address, not a tag.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_ERB = re.compile(r"<%.*?%>", re.S)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_BLANK_RUN = re.compile(r"\n{3,}")


def to_markdown(raw: str, title: str) -> str:
    """The write-up's body as plain Markdown: no front matter, HTML, comments or images.

    A leading heading that repeats the title is dropped, since the title is in the front
    matter already.
    """
    text = raw.replace("\r\n", "\n").lstrip("\ufeff")
    text = _FRONT_MATTER.sub("", text, count=1)
    text = _COMMENT.sub("", text)
    text = _ERB.sub("", text)
    text = _IMAGE.sub("", text)
    text = text.replace("<br />", "").replace("<br/>", "").replace("<br>", "")
    text = _TAG.sub("", text)
    text = html.unescape(text)
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0].startswith("#") and _same_title(lines[0].lstrip("#").strip(), title):
        lines.pop(0)
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip() + "\n"


def _same_title(heading: str, title: str) -> bool:
    def norm(value: str) -> str:
        return re.sub(r"[^a-z0-9]+", " ", value.lower()).strip()

    return norm(heading) == norm(title) or norm(heading).startswith(norm(title)[:30])


# A timeline line starts with a date-time or a clock time (after any bullet or emphasis).
_TIMELINE_LINE = re.compile(
    r"^[\s*_>+-]*(?:\d{4}-\d{2}-\d{2}[ T]\d{1,2}[:.]?\d{2}|\d{1,2}[:.]\d{2}\b)"
)
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{1,2}[:.]?\d{2}")
# Autolinks, including ones whose slashes were lost ("<https: host path>").
_URL = re.compile(r"<https?:[^>]*>|https?://\S+")


def _is_timeline(line: str) -> bool:
    """A line of a timeline or key-event list: it starts with a time, or is short and dated."""
    return bool(_TIMELINE_LINE.match(line)) or (len(line) < 70 and bool(_DATE_TIME.search(line)))


_METADATA_LINE = re.compile(r"^[A-Za-z][\w ()/-]{0,30}:\s")


def summary_of(body: str, limit: int = SUMMARY_LIMIT) -> str:
    """The write-up's opening prose paragraph(s), up to about `limit` characters.

    Headings, code blocks, tables, timelines (paragraphs whose lines are mostly timestamps)
    and short metadata lines ("Created by: …", "Time to repair: …") are skipped, so a
    template's key-event list does not become the summary. Markdown emphasis and link
    targets are removed.
    """
    chosen: list[str] = []
    length = 0
    in_code = False
    for block in body.split("\n\n"):
        stripped = block.strip()
        if stripped.startswith("```") or in_code:
            if stripped.count("```") % 2 == 1:
                in_code = not in_code
            continue
        # A heading may sit directly on top of its first paragraph: drop the heading only.
        lines = [line for line in stripped.split("\n") if line.strip() and not line.startswith("#")]
        stripped = "\n".join(lines)
        if not stripped or stripped.startswith(("|", ">", "[^")):
            continue
        stamped = sum(1 for line in lines if _is_timeline(line))
        if stamped * 2 > len(lines):
            continue
        if all(_METADATA_LINE.match(line.strip()) and len(line) <= 100 for line in lines):
            continue
        prose = _plain(stripped)
        if len(prose) < MIN_SUMMARY_PARAGRAPH:
            continue
        chosen.append(prose)
        length += len(prose) + 1
        if length >= limit // 2:
            break
    return _clip(" ".join(chosen), limit)


def _plain(markdown: str) -> str:
    kept: list[str] = []
    for line in markdown.split("\n"):
        text = re.sub(r"\[\^[^\]]*\]", "", line)
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
        text = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", text)
        linked = text != line or bool(_URL.search(text))
        text = _URL.sub("", text)
        # Emphasis marks only at word edges: `serde_derive` keeps its underscore.
        text = re.sub(r"`|(?<!\w)[*_]{1,3}|[*_]{1,3}(?!\w)", "", text)
        text = re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "", text)
        text = re.sub(r"\s+", " ", text).strip()
        # A label left without its link ("Slack thread:") or a one-word list item says nothing.
        if len(text) < 15 or (text.endswith(":") and len(text) < 40):
            continue
        # A short line that carried a link is its caption ("Slack thread: … for the incident").
        if linked and len(text) < 70:
            continue
        if kept and not kept[-1].endswith((".", ":", "!", "?", ",", ";")) and text[:1].isupper():
            kept[-1] += "."
        kept.append(text)
    return " ".join(kept)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    sentence_end = max(cut.rfind(". "), cut.rfind(".\n"))
    if sentence_end >= limit // 2:
        return cut[: sentence_end + 1]
    return cut[: cut.rfind(" ")].rstrip(",;:") + " …"


def inject_template(body: str, company: str) -> str:
    """The body with the organisation's boilerplate opening and closing paragraphs added."""
    opening, closing = TEMPLATES.get(company, DEFAULT_TEMPLATE)
    opening, closing = opening.format(company=company), closing.format(company=company)
    return f"{opening}\n\n{body.strip()}\n\n{closing}\n"


def _yaml_string(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(value, ensure_ascii=False)


def render(entry: Entry, raw: str, *, templated: bool = False) -> str:
    """The corpus file for one entry: import front matter, then the Markdown body."""
    body = to_markdown(raw, entry.title)
    if templated:
        body = inject_template(body, entry.company)
    fields = {
        "uuid": entry.uuid,
        "url": entry.url,
        "title": entry.title,
        "company": entry.company,
        "product": entry.product,
        "summary": summary_of(body),
    }
    if entry.start_time:
        fields["start_time"] = entry.start_time
    front = "\n".join(f"{key}: {_yaml_string(value)}" for key, value in fields.items() if value)
    return f"---\n{front}\n---\n\n{body}"


def build(sources: Path, out: Path, *, templated: bool = False) -> list[str]:
    """Write every manifest entry to `out/<uuid>.md`; return the problems met (none is fatal)."""
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for entry in load_manifest():
        try:
            raw = read_blob(sources, entry)
        except FileNotFoundError as error:
            problems.append(str(error))
            continue
        (out / f"{entry.uuid}.md").write_text(
            render(entry, raw, templated=templated), encoding="utf-8"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: build the folder and report how many write-ups were written."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sources", type=Path, required=True, help="folder of owner+name git directories"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write the corpus to")
    parser.add_argument(
        "--inject-template",
        action="store_true",
        help="add per-organisation boilerplate opening and closing paragraphs",
    )
    args = parser.parse_args(argv)
    problems = build(args.sources, args.out, templated=args.inject_template)
    written = len(list(args.out.glob("*.md")))
    print(f"{written} write-ups in {args.out}")
    for problem in problems:
        print(f"missing: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
