"""Markdown to safe HTML, for every page that shows a review.

Rendering is bounded, because one stored review is rendered on every view of it and the
live preview renders whatever a browser sends:

- The parser is markdown-it-py, a CommonMark parser whose every rule runs in linear time
  (the `markdown` package it replaces took minutes on 50,000 `[`). Tables, strikethrough,
  fenced code, footnotes and definition lists keep what authors wrote before.
- A text longer than any section may be (`SEAMS_MAX_SECTION_CHARS`), or one whose parse
  outlives `RENDER_SECONDS`, is shown as escaped plain text instead: a second line of
  defence should the first ever fail, and the text is still all there to read.

Markdown lets authors write raw HTML, so its output is untrusted: nh3 (a binding to the
Rust `ammonia` sanitiser) keeps an allow-list of tags, attributes and URL schemes and drops
everything else — scripts, event handlers, `javascript:` links, styles.
"""

from __future__ import annotations

import time
from typing import Any

import nh3
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.footnote import footnote_plugin

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
    "s", "section", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "abbr": {"title"},
    "td": {"align"},
    "th": {"align"},
    "code": {"class"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
# Table cell alignment as a class, not markdown-it's `style="text-align:…"`: the pages'
# Content-Security-Policy (`style-src 'self'`) ignores every inline style attribute.
ALIGN_CLASSES = {"align-left", "align-center", "align-right"}
ALLOWED_CLASSES = {"td": ALIGN_CLASSES, "th": ALIGN_CLASSES}

# A 100,000-character adversarial section parses in under two seconds on a slow shared
# machine; this is the ceiling past which a parse is abandoned, not a target.
RENDER_SECONDS = 5.0


class RenderTimeout(Exception):
    """The parse of one text went past its deadline."""


def _deadline_rule(state: StateBlock | StateInline, *args: Any) -> bool:
    """A parser rule that matches nothing and stops the parse once its deadline has passed.

    It runs first at every block and inline position, so a parse cannot run long between
    two checks; a clock read per position costs a few per cent of a render.
    """
    if time.monotonic() > state.env["deadline"]:
        raise RenderTimeout
    return False


def _align_by_class(state: StateCore) -> None:
    """Turn a table cell's `style="text-align:X"` into `class="align-X"` (see ALLOWED_CLASSES)."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open"):
            style = str(token.attrs.pop("style", ""))
            if style.startswith("text-align:"):
                token.attrSet("class", "align-" + style.removeprefix("text-align:"))


def _parser() -> MarkdownIt:
    md = (
        MarkdownIt("commonmark", {"html": True})
        .enable(["table", "strikethrough"])
        .use(footnote_plugin)
        .use(deflist_plugin)
    )
    md.block.ruler.before("table", "seams_deadline", _deadline_rule)
    md.inline.ruler.before("text", "seams_deadline", _deadline_rule)
    md.core.ruler.push("seams_align_by_class", _align_by_class)
    return md


_MD = _parser()


def _plain(text: str) -> str:
    """The text as escaped paragraphs: the fallback that cannot be slow."""
    paragraphs = (p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip())
    return "".join(f"<p>{escape(p)}</p>" for p in paragraphs)


def markdown_to_html(text: str, seconds: float = RENDER_SECONDS) -> str:
    """Render Markdown to (unsanitised) HTML within `seconds`, else as escaped plain text."""
    if len(text) > settings.SEAMS_MAX_SECTION_CHARS:
        return _plain(text)
    try:
        return _MD.render(text, {"deadline": time.monotonic() + seconds})
    except RenderTimeout:
        return _plain(text)


def render_markdown(text: str | None) -> SafeString:
    """Render review Markdown to HTML that is safe to put on a page as it is."""
    if not text:
        return mark_safe("")
    clean = nh3.clean(
        markdown_to_html(text),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        allowed_classes=ALLOWED_CLASSES,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)
