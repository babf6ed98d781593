"""A `chat.answers.Reply` as Slack Block Kit: a message for a `response_url`, or the preview
of one link for `chat.unfurl`. Block Kit's limits are kept (a header of 150 characters, a
text of 3000, 50 blocks), and text from reviews is escaped so it cannot make Slack links
or mentions."""

from __future__ import annotations

from chat.answers import Item, Reply

HEADER_MAX = 150
TEXT_MAX = 3000
BLOCKS_MAX = 50


def escape(text: str) -> str:
    """Text shown as it is: Slack reads `<…>` as links and mentions, `&` as an entity."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    # In a Slack link `|` separates the address from the label, so the label may not hold one.
    return f"<{url}|{escape(label).replace('|', '¦')}>"


def _cut(text: str, limit: int = TEXT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": _cut(text)}


def _section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _item_text(item: Item) -> str:
    lines = [f"*{_link(item.url, item.title)}*"]
    if item.confidence:
        lines.append(f"Confidence: *{item.confidence}* (score {item.score:.2f})")
    elif item.score is not None:
        lines.append(f"Score {item.score:.2f}")
    if item.why:
        lines.append(f"Why: {escape(item.why)}")
    if item.text:
        lines.append(escape(item.text))
    return "\n".join(lines)


def reply_blocks(reply: Reply) -> list[dict]:
    """The blocks of a whole answer."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(reply.heading, HEADER_MAX)}}
    ]
    if reply.text:
        blocks.append(_section(escape(reply.text)))
    for section in reply.sections:
        if not section.items and not section.empty:
            continue
        blocks.append({"type": "divider"})
        blocks.append(_section(f"*{escape(section.title)}*"))
        if not section.items:
            blocks.append(_context(escape(section.empty)))
        for item in section.items:
            blocks.append(_section(_item_text(item)))
            if item.details:
                blocks.append(_context(escape(" · ".join(item.details))))
    footer = []
    if reply.url:
        footer.append(_link(reply.url, "Open in Seams"))
    if reply.note:
        footer.append(escape(reply.note))
    if footer:
        blocks.append(_context("  ".join(footer)))
    return blocks[:BLOCKS_MAX]


def message(reply: Reply) -> dict:
    """A message for a `response_url`: ephemeral, seen only by who asked, because it was
    answered with their visibility (a linked account may read restricted reviews that others
    in the channel may not). `text` is the notification's fallback."""
    return {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": _cut(escape(f"{reply.heading}: {reply.text}" if reply.text else reply.heading)),
        "blocks": reply_blocks(reply),
    }


def looking() -> dict:
    """The immediate acknowledgement of a command, while a job finds the answer."""
    return {"response_type": "ephemeral", "text": "Looking…"}


def unfurl(reply: Reply) -> dict:
    """The preview of one review link: title, facts, summary and patterns; for a restricted
    or missing review only a link (`chat.answers.review_preview` gives no more)."""
    if not reply.sections:
        return {"blocks": [_section(f"{escape(reply.text)}: {_link(reply.url, 'open in Seams')}")]}
    blocks = [_section(f"*{_link(reply.url, reply.heading)}*\n{escape(reply.text)}".rstrip())]
    facts = [" · ".join(i.details) for s in reply.sections for i in s.items if i.details][:1]
    patterns = [
        i.title for s in reply.sections if s.title == "Structural patterns" for i in s.items
    ]
    if patterns:
        facts.append("Patterns: " + ", ".join(patterns))
    if facts:
        blocks.append(_context(escape("  —  ".join(facts))))
    return {"blocks": blocks}
