"""Review Markdown renders as HTML, and hostile Markdown renders inert."""

import re

import pytest

from incidents.rendering import render_markdown

HOSTILE = [
    "<script>alert('x')</script>",
    '<img src="x.png" onerror="alert(1)">',
    "[click me](javascript:alert(1))",
    '<a href="javascript:alert(1)">link</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<svg onload="alert(1)"></svg>',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<a href="JaVaScRiPt:alert(1)">mixed case</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
]


def test_markdown_renders_headings_lists_emphasis_and_code():
    html = render_markdown("## Impact\n\n- **edge** down\n- `502` errors\n")
    assert "<h2>Impact</h2>" in html
    assert "<li><strong>edge</strong> down</li>" in html
    assert "<code>502</code>" in html


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_markdown_is_inert(payload):
    html = render_markdown(payload).lower()
    assert "<script" not in html
    assert "onerror" not in html
    assert "onload" not in html
    # A refused link may stay on the page as text; no attribute may carry the scheme.
    assert not re.search(r"=\s*[\"']?\s*javascript:", html)
    assert "<iframe" not in html
    assert "style=" not in html
    assert "data:text/html" not in html


def test_what_authors_write_beyond_commonmark_still_renders():
    """Tables, fenced code, footnotes, definition lists and strikethrough, as before."""
    html = render_markdown(
        "| metric | value |\n|:--|--:|\n| errors | 502 |\n\n"
        "```python\nretry()\n```\n\n"
        "Traffic fell[^1].\n\n[^1]: At 13:42 UTC.\n\n"
        "Blast radius\n: Every edge node.\n\n"
        "~~rolled back~~\n"
    )
    assert '<th class="align-left">metric</th>' in html
    assert '<td class="align-right">502</td>' in html
    assert '<code class="language-python">retry()' in html
    assert "<sup>" in html
    assert "At 13:42 UTC." in html
    assert "<dt>Blast radius</dt>" in html
    assert "<dd>Every edge node.</dd>" in html
    assert "<s>rolled back</s>" in html


def test_rendered_markdown_carries_no_inline_style_the_csp_would_block():
    """The pages' CSP (`style-src 'self'`) ignores style attributes: alignment is a class."""
    html = render_markdown(
        "| a | b | c |\n|:-:|--:|:--|\n| 1 | 2 | 3 |\n\n"
        '<table><tr><td style="text-align:center;background:url(x)" align="right" '
        'class="danger">a</td></tr></table>'
    )
    assert "style=" not in html
    assert "background" not in html
    assert '<th class="align-center">a</th>' in html
    assert '<td align="right"' in html  # raw HTML keeps `align`
    assert "danger" not in html  # and only the alignment classes pass


def test_links_keep_their_text_and_safe_href_with_noopener():
    html = render_markdown("[runbook](https://example.com/runbook)")
    assert 'href="https://example.com/runbook"' in html
    assert "noopener" in html
    assert ">runbook</a>" in html


def test_empty_text_renders_nothing():
    assert render_markdown("") == ""
    assert render_markdown(None) == ""
