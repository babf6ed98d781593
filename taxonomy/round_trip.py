"""Forms that give back, untouched, what they were given: an unchanged save changes nothing.

What a browser sends back is not always what was stored: Django strips surrounding
whitespace, browsers send line breaks as CR LF and drop them from one-line inputs, and a
datetime input carries no microseconds. A field the person did not change therefore keeps
its stored value rather than the one the browser returned.

It lives in the lowest app so that every app's forms (the catalogue's admin, the review
editor, the reviews' admin) can use the one mechanism.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms


def as_submitted(text: str, widget: forms.Widget) -> str:
    """`text` as a browser sends it back from `widget`, line breaks as "\\n"."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # A one-line input drops line breaks from its value; a textarea keeps them.
    return text if isinstance(widget, forms.Textarea) else text.replace("\n", "")


def shown_unchanged(form: forms.BaseForm, name: str) -> bool:
    """Whether the browser sent back exactly what the form showed for `name`."""
    field = form.fields[name]
    bound = form[name]
    submitted = field.widget.value_from_datadict(form.data, form.files, form.add_prefix(name))
    if isinstance(field, forms.DateTimeField):
        # Compared as times: a browser may send "10:00" for the "10:00:00" it was shown.
        return not field.has_changed(bound.initial, submitted)
    shown = field.widget.format_value(field.prepare_value(bound.initial))
    if not isinstance(submitted, str | None) or not isinstance(shown, str | None):
        return False
    return as_submitted(shown or "", field.widget) == as_submitted(submitted or "", field.widget)


class KeepsUnchangedValues:
    """A form whose untouched text and time fields keep their stored values exactly."""

    # The kinds of field whose submitted value may differ from the stored one unchanged.
    round_trip_fields: ClassVar[tuple[type[forms.Field], ...]] = (
        forms.CharField,
        forms.DateTimeField,
    )

    def clean(self) -> dict[str, Any]:
        """Put the stored value back for every field sent back as it was shown."""
        data = super().clean()
        for name, field in self.fields.items():
            if (
                isinstance(field, self.round_trip_fields)
                and not field.disabled
                and name in data
                and name in self.initial
                and shown_unchanged(self, name)
            ):
                data[name] = self.initial[name]
        return data
