"""What a review's template requires before the review may be sent for review."""

from __future__ import annotations

from incidents.models import Incident

from .sections import Section, missing_sections


class RequiredSectionsEmpty(ValueError):
    """The review's template requires sections that are still empty.

    A ValueError, as the workflow's other refusals ("name at least one reviewer") are, so
    a door that already answers those with a message answers this one too.
    """

    def __init__(self, template_name: str, missing: list[Section]) -> None:
        self.template_name = template_name
        self.missing = missing
        super().__init__(
            f"Not sent for review: the template “{template_name}” requires "
            f"{', '.join(s.label for s in missing)}, still empty. "
            "Fill them in, then send the review again."
        )

    @property
    def names(self) -> list[str]:
        """The missing sections' names, as the API and the editor call them."""
        return [s.name for s in self.missing]

    @property
    def labels(self) -> list[str]:
        """The missing sections in people's words."""
        return [s.label for s in self.missing]


def missing_required_sections(incident: Incident) -> list[Section]:
    """The sections this review's template requires that are still empty, in reading
    order; none when the review has no template."""
    template = incident.template
    if template is None:
        return []
    return missing_sections(incident, template.required_sections)


def check_required_sections(incident: Incident) -> None:
    """Raise RequiredSectionsEmpty when the review's template requires an empty section."""
    missing = missing_required_sections(incident)
    if missing:
        raise RequiredSectionsEmpty(incident.template.name, missing)
