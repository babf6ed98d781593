"""Forms of the people pages: they validate and translate, the modules beside them act."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from .invitations import existing_account, normalise_email
from .models import Role
from .roles import teams
from .teams import TeamError, clean_team_name

ROLE_HELP = (
    "Reader: reads and comments. Author: also writes reviews and edits their own. "
    "Reviewer: also may be named a reviewer and approve. Admin: also edits and publishes "
    "any review and manages people."
)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, help_text=ROLE_HELP)


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.AUTHOR, help_text=ROLE_HELP)
    teams = forms.ModelMultipleChoiceField(
        queryset=teams().order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Reviews restricted to a team are visible to its members only.",
    )

    def clean_email(self) -> str:
        email = normalise_email(self.cleaned_data["email"])
        account = existing_account(email)
        if account is not None:
            raise forms.ValidationError(
                f"{email} already has an account in Seams ({account.get_username()}); "
                "change their role or teams on their page instead."
            )
        return email


class TeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=150)

    def clean_name(self) -> str:
        try:
            return clean_team_name(self.cleaned_data["name"])
        except TeamError as error:
            raise forms.ValidationError(str(error)) from error


class MemberForm(forms.Form):
    username = forms.CharField(
        label="Username", max_length=150, help_text="Someone who already has an account."
    )

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        person = get_user_model().objects.filter(username__iexact=username).first()
        if person is None:
            raise forms.ValidationError(
                f"Nobody is called “{username}” in Seams; invite them first."
            )
        return person


class AcceptInvitationForm(UserCreationForm):
    """The invitee's username and password (Django's password validators apply, and
    compare the password with the invited e-mail address too)."""

    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    def __init__(self, *args, email: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The similarity validator compares the password with the user's attributes.
        self.instance.email = email
