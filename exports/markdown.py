"""One review as a Markdown document, for a wiki, a ticket or an e-mail.

The author's sections are Markdown already and are copied as written. What Seams adds —
headings, the facts, the tables — is built around them so that it stays what it is:

- plain-text values (the title, names, labels) are escaped, so `<b>` or `*` in a title is
  read as text, not markup;
- table cells have their pipes escaped and their line breaks turned into `<br>`, so a cell
  cannot end its row or its table;
- a section that leaves a block open (a code fence without its closing fence, an HTML
  comment without `-->`) is closed after it, so it cannot swallow the rest of the export.
  In Seams each section is rendered on its own; in one document they follow each other.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from incidents.models import Incident

from .document import ReviewDocument, review_document

# Block structure only: whether a section leaves a block open is decided by the block rules
# (which run in linear time); inline parsing would only cost time here.
_BLOCKS = MarkdownIt("commonmark", {"html": True}).enable("table").disable("inline")
_PROBE = "# seams-export-probe"
# Closers of the HTML blocks that run until a marker rather than a blank line (CommonMark
# HTML block kinds 1 to 5).
_HTML_CLOSERS = ("-->", "?>", "]]>", ">", "</script>", "</pre>", "</style>", "</textarea>")
# ASCII punctuation that can start markup in running text or a heading.
_MARKUP = re.compile(r"([\\`*_\[\]<>#|~!&])")


def text(value: str) -> str:
    """Plain text made safe to put in Markdown: read as written, never as markup."""
    return _MARKUP.sub(r"\\\1", " ".join(value.split()))


def cell(value: str) -> str:
    """The author's Markdown as one table cell: pipes escaped, line breaks as `<br>`."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n").strip().split("\n")
    return "<br>".join(line.strip() for line in lines).replace("|", r"\|")


def _closes(source: str) -> bool:
    """Whether a heading after `source` (and a blank line) is still a heading."""
    tokens = _BLOCKS.parse(f"{source}\n\n{_PROBE}\n")
    return len(tokens) >= 3 and tokens[-3].type == "heading_open"


def contained(source: str) -> str:
    """The author's Markdown, with whatever block it leaves open closed after it."""
    source = source.replace("\r\n", "\n").replace("\r", "\n").strip("\n").rstrip()
    if not source or _closes(source):
        return source
    last = _BLOCKS.parse(source)[-1]
    closers = [last.markup] if last.type == "fence" else list(_HTML_CLOSERS)
    for closer in closers:
        if _closes(f"{source}\n{closer}"):
            return f"{source}\n{closer}"
    # Nothing closes it: show the section as a code block, which ends at the next line that
    # is not indented. The text is all there, only not formatted.
    return "\n".join("    " + line for line in source.split("\n"))


def _section(heading: str, body: str, empty: str = "_Not recorded._") -> list[str]:
    return [f"## {heading}", "", contained(body) or empty, ""]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _item(number: int, body: str) -> list[str]:
    """One numbered list item; the author's lines are indented under its marker."""
    marker = f"{number}. "
    first, *rest = contained(body).split("\n") or [""]
    return [marker + first, *(" " * len(marker) + line if line else "" for line in rest)]


def _link(url: str) -> str:
    return f"<{url}>" if url and not re.search(r"[\s<>]", url) else text(url)


def document_markdown(doc: ReviewDocument) -> str:
    """Render a `ReviewDocument` as Markdown (see the module's docstring for the rules)."""
    out = [f"# {text(doc.title)}", ""]
    if doc.restricted_to:
        out += [
            f"> **Restricted** to the {text(doc.restricted_to)} group in Seams: share it "
            "only with people who may read it there.",
            "",
        ]
    out += _table(["", ""], [[f"**{label}**", text(value)] for label, value in doc.facts])
    out += ["All times are in UTC.", ""]
    out += _section("Summary", doc.summary)
    out += _section("Impact", doc.impact)

    out += ["## Timeline", ""]
    if doc.timeline:
        out += _table(
            ["When (UTC)", "Kind", "What happened", "Why it looked right at the time"],
            [[e.when, e.kind, cell(e.text), cell(e.why_reasonable)] for e in doc.timeline],
        )
    else:
        out += ["_No timeline events recorded._", ""]

    out += _section("Narrative", doc.narrative)
    out += ["## Contributing factors", ""]
    if doc.factors:
        for number, factor in enumerate(doc.factors, start=1):
            out += [*_item(number, factor), ""]
    else:
        out += ["_None recorded._", ""]
    out += _section("What went well", doc.went_well)
    out += _section("Where we got lucky", doc.where_lucky)

    out += ["## Structural patterns", ""]
    if doc.patterns:
        for pattern in doc.patterns:
            out += [f"### {text(pattern.name)}", "", contained(pattern.rationale), ""]
    else:
        out += ["_No structural pattern linked._", ""]

    out += ["## Action items", ""]
    if doc.actions:
        out += _table(
            ["Action", "Owner", "Status", "Due", "Leverage level", "Kind", "Pattern", "Tracker"],
            [
                [text(a.title), text(a.owner), a.status, a.due or "—", text(a.leverage) or "—",
                 a.kind, text(a.pattern) or "—", _link(a.tracker_url) if a.tracker_url else "—"]
                for a in doc.actions
            ],
        )  # fmt: skip
    else:
        out += ["_No action items._", ""]

    out += ["---", "", f"Exported from Seams on {doc.exported_at}: <{doc.url}>", ""]
    return "\n".join(out)


def review_markdown(incident: Incident) -> str:
    """One review as a Markdown document: facts, every section, the timeline and the action
    items as tables, and a link back to the review in Seams."""
    return document_markdown(review_document(incident))
