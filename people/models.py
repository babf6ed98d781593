"""Invitations to join Seams, and the identities people sign in with elsewhere."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    """What a person may do in Seams: one role each (people.roles maps them onto Django
    permissions)."""

    READER = "reader", "Reader"
    AUTHOR = "author", "Author"
    REVIEWER = "reviewer", "Reviewer"
    ADMIN = "admin", "Admin"


class Invitation(models.Model):
    """An e-mailed, one-time link to join Seams with a role and teams.

    Only a hash of the link's token is kept: a copy of the database cannot be used to
    accept someone else's invitation. The model also carries the people app's own
    permissions (Django needs a model to hang them on).
    """

    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AUTHOR)
    teams = models.ManyToManyField(Group, blank=True, related_name="+")
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["email"])]
        permissions = [
            ("manage_people", "May invite people, change their roles, deactivate them, and "
             "manage teams"),
            ("review_incidents", "May be named a reviewer and approve or request changes"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"Invitation for {self.email}"

    @staticmethod
    def hash_token(token: str) -> str:
        """The stored form of an invitation token (SHA-256: tokens are long and random, so
        a slow hash would add nothing)."""
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at


class ExternalIdentity(models.Model):
    """A person's account at the single sign-on provider (its issuer and subject), so the
    next sign-in finds the same Seams user even when their e-mail address changed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_identity")
        ]
        verbose_name_plural = "external identities"

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
