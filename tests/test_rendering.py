"""Review Markdown renders as HTML, and hostile Markdown renders inert."""

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
    assert "javascript:" not in html
    assert "<iframe" not in html
    assert "style=" not in html
    assert "data:text/html" not in html


def test_links_keep_their_text_and_safe_href_with_noopener():
    html = render_markdown("[runbook](https://example.com/runbook)")
    assert 'href="https://example.com/runbook"' in html
    assert "noopener" in html
    assert ">runbook</a>" in html


def test_empty_text_renders_nothing():
    assert render_markdown("") == ""
    assert render_markdown(None) == ""
