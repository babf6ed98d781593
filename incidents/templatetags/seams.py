"""Template helpers for review pages."""

from django import template
from django.utils.safestring import SafeString

from incidents.rendering import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str | None) -> SafeString:
    """Render review Markdown, sanitised (see `incidents.rendering`)."""
    return render_markdown(text)
