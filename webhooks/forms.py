"""The endpoint form of the webhook pages."""

from __future__ import annotations

from django import forms

from .models import SUBSCRIBABLE
from .services import scope_choices


class EndpointForm(forms.Form):
    """An endpoint's address, description, events and scope. The scope offers the teams the
    person belongs to (all teams to superusers): a scoped endpoint receives their restricted
    reviews."""

    url = forms.URLField(
        label="Payload URL",
        max_length=500,
        assume_scheme="https",
        help_text="Where Seams POSTs the events: an http or https address.",
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=[(choice.value, f"{choice.value} — {choice.label}") for choice in SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
        help_text="The events it is sent.",
    )
    scope = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Restricted reviews it may receive",
        help_text=(
            "Events about a review restricted to a team reach only endpoints scoped to that "
            "team. You may choose the teams you belong to."
        ),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].queryset = scope_choices(user)

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http or https address.")
        return url
