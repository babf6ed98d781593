"""A blameless review of one incident, and what the background jobs derive from reviews.

The review is the incident with its timeline, contributing factors, action items, emergent
shapes, links to structural patterns (each with a rationale) and the components involved.
Recurring structures are derived: the analysis writes them, nothing else does.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern


class Component(models.Model):
    """A part of the production estate (a service, a pipeline, a database, a vendor).

    `depends_on` records the dependencies between components, so that concentration —
    many things resting on one dependency — can be seen.
    """

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="dependents"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IncidentQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> IncidentQuerySet:
        """Only the incidents this user may see: unrestricted ones, and restricted ones of
        a group the user belongs to. Every list, search, count and report starts here."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(Q(restricted_to__isnull=True) | Q(restricted_to__in=user.groups.all()))

    def hidden_from(self, user: AbstractBaseUser | AnonymousUser) -> IncidentQuerySet:
        """The incidents this user may not see: the complement of `visible_to`."""
        if not user.is_authenticated:
            return self
        if user.is_superuser:
            return self.none()
        return self.hidden_from_groups(user.groups.all())

    def hidden_from_groups(self, groups) -> IncidentQuerySet:
        """The incidents hidden from a reader in these groups (ids or a queryset)."""
        return self.filter(restricted_to__isnull=False).exclude(restricted_to__in=groups)

    def with_review_parts(self) -> IncidentQuerySet:
        """The incidents with every part a whole review shows (timeline, factors, action
        items with their level, pattern, owners and closer, pattern links), in a fixed
        number of queries: the review page and the exports read the same."""
        return self.select_related("created_by", "restricted_to").prefetch_related(
            "shapes",
            "components",
            "timeline",
            "contributing_factors",
            models.Prefetch(
                "action_items",
                ActionItem.objects.select_related(
                    "leverage_level", "pattern", "owner_user", "owner_team", "closed_by"
                ).order_by("id"),
            ),
            models.Prefetch("pattern_links", PatternLink.objects.select_related("pattern")),
        )

    def needing_analysis(self) -> IncidentQuerySet:
        """Incidents whose latest save has not been analysed yet."""
        return self.filter(
            Q(analysed_at__isnull=True) | Q(analysed_at__lt=models.F("analysis_requested_at")),
            analysis_requested_at__isnull=False,
        )


class Incident(models.Model):
    """One incident and its blameless review."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        PUBLISHED = "published", "Published"

    class Severity(models.TextChoices):
        SEV1 = "sev1", "SEV1 — critical"
        SEV2 = "sev2", "SEV2 — major"
        SEV3 = "sev3", "SEV3 — minor"
        SEV4 = "sev4", "SEV4 — low"
        # Imported write-ups that do not say how severe they were. Kept out of every
        # severity-weighted figure rather than guessed.
        UNKNOWN = "unknown", "Unknown"

    title = models.CharField(max_length=250)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.SEV3)

    started_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    # Markdown sections of the review.
    summary = models.TextField(blank=True)
    impact = models.TextField(blank=True)
    users_affected = models.CharField(max_length=250, blank=True)
    # How many users were affected, when someone knows: the only figure reports add up.
    # Empty means unknown; it is never read out of the prose above.
    users_affected_count = models.PositiveIntegerField(
        "number of users affected", null=True, blank=True
    )
    narrative = models.TextField(blank=True)
    went_well = models.TextField("what went well", blank=True)
    where_lucky = models.TextField("where we got lucky", blank=True)

    # Perrow position, each 1 (linear / loose) to 5 (complex / tight).
    complexity = models.PositiveSmallIntegerField(
        "interactive complexity",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    coupling = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )

    shapes = models.ManyToManyField(EmergentShape, blank=True, related_name="incidents")
    components = models.ManyToManyField(Component, blank=True, related_name="incidents")

    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="incidents_to_review"
    )

    restricted_to = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="restricted_incidents",
        help_text="If set, only members of this group can see the review (e.g. security).",
    )

    # Identity of a review imported from elsewhere (or of a demo review), for idempotent imports.
    external_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    source_url = models.URLField(max_length=500, blank=True)
    # Where it happened. Blank means "here": the organisation that runs this Seams. Imported
    # public write-ups name theirs, so "has this happened to us?" and "has it happened
    # anywhere?" can be told apart, and a company's name never has to pose as a component.
    organisation = models.CharField(
        max_length=200,
        blank=True,
        db_index=True,
        help_text="The organisation the incident happened at; leave blank for your own.",
    )

    # Blameless by default: a timeline imported from chat names people by their role unless
    # the review's author allows names here (the timeline_import app reads it).
    timeline_names_allowed = models.BooleanField(
        "keep people's names in imported timelines",
        default=False,
        help_text=(
            "When the timeline is imported from chat, keep who wrote each message. "
            "Off: each person is shown by their role (their chat profile's title, or "
            "“Responder”)."
        ),
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents_created",
    )
    # The template the review was written from: which sections it requires before review.
    template = models.ForeignKey(
        "review_templates.ReviewTemplate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    # When the latest save asked for analysis, and when an analysis of that save finished.
    # A gap between them (after a grace period) is what the sweep catches up.
    analysis_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    analysed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["-started_at", "-id"], name="incident_started_idx"),
            models.Index(fields=["status"], name="incident_status_idx"),
            models.Index(fields=["analysed_at"], name="incident_analysed_idx"),
        ]
        # Who may do what is in incidents.permissions; this one is for approvers who are not
        # a review's named reviewer.
        permissions = [("publish_incident", "Can publish a review without being its reviewer")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("incidents:detail", args=[self.pk])


class TimelineEvent(models.Model):
    """A moment in the incident: what happened, and why it looked right at the time."""

    class Kind(models.TextChoices):
        TRIGGER = "trigger", "Trigger"
        DETECTION = "detection", "Detection"
        ESCALATION = "escalation", "Escalation"
        DECISION = "decision", "Decision"
        MITIGATION = "mitigation", "Mitigation"
        RECOVERY = "recovery", "Recovery"
        COMMUNICATION = "communication", "Communication"
        OBSERVATION = "observation", "Observation"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OBSERVATION)
    text = models.TextField()
    why_reasonable = models.TextField("why it looked right at the time", blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"


class ContributingFactor(models.Model):
    """One of several conditions that together made the incident possible."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="contributing_factors"
    )
    text = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text[:80]


class ActionItem(models.Model):
    """Follow-up work, recording whether it patches a component or changes a structure and
    at which of Meadows' leverage levels it acts."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        WONT_DO = "wont_do", "Won't do"

    class Kind(models.TextChoices):
        COMPONENT_PATCH = "component_patch", "Component patch"
        STRUCTURAL_FIX = "structural_fix", "Structural fix"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=300)
    # The owner as written (an imported write-up's "SRE team"); a person or a team in Seams
    # is `owner_user` or `owner_team`, and only they get reminders and "My action items".
    owner = models.CharField(max_length=150, blank=True)
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_action_items",
    )
    owner_team = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_action_items",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    due = models.DateField(null=True, blank=True)
    # When the item was done: "recurred despite remediation" compares it with the next
    # incident of the same structure.
    completed_at = models.DateTimeField(null=True, blank=True)
    # Who marked it done (or won't do); kept when the person leaves.
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tracker_url = models.URLField(max_length=500, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.COMPONENT_PATCH)
    leverage_level = models.ForeignKey(
        LeverageLevel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pattern = models.ForeignKey(
        StructuralPattern,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="action_items",
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title


class PatternLink(models.Model):
    """The claim that an incident shows a structural pattern, with the author's reasoning."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="pattern_links")
    pattern = models.ForeignKey(
        StructuralPattern, on_delete=models.PROTECT, related_name="incident_links"
    )
    rationale = models.TextField()
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["pattern__name"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "pattern"], name="unique_pattern_link")
        ]

    def __str__(self) -> str:
        return f"{self.incident} shows {self.pattern}"


class Revision(models.Model):
    """The whole review as it was after one save. Every save writes one; none is edited."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "version"], name="unique_revision")
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} v{self.version}"


class Comment(models.Model):
    """A reviewer's remark on a review (Markdown)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Threads: a reply names the comment that opened its thread (one level deep), and a
    # thread may be anchored to a section of the review (blank: the review as a whole).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    section = models.CharField(max_length=40, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Comment on {self.incident_id} by {self.author_id}"


class SuggestionDecision(models.Model):
    """An author's answer to a suggestion Seams made for a review: a pattern it might show,
    or a past incident it might resemble. Rejected suggestions are not offered again."""

    class Kind(models.TextChoices):
        PATTERN = "pattern", "Pattern"
        INCIDENT = "incident", "Similar incident"

    class Decision(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="suggestion_decisions"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    pattern = models.ForeignKey(
        StructuralPattern, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    other_incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "pattern"],
                condition=models.Q(kind="pattern"),
                name="one_decision_per_pattern",
            ),
            models.UniqueConstraint(
                fields=["incident", "other_incident"],
                condition=models.Q(kind="incident"),
                name="one_decision_per_incident",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} {self.kind} for {self.incident_id}"


class PatternScore(models.Model):
    """Derived: how strongly an incident shows a pattern, and why.

    `linked` scores come from the author's pattern links (1.0); `text` scores from the
    catalogue's mechanism phrases found in the review's text, with the phrases as evidence.
    """

    class Basis(models.TextChoices):
        LINKED = "linked", "Linked by an author"
        TEXT = "text", "Found in the text"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="pattern_scores")
    pattern = models.ForeignKey(StructuralPattern, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    basis = models.CharField(max_length=10, choices=Basis.choices)
    evidence = models.JSONField(default=list, blank=True)
    # Slugs of the pattern's catalogue mechanisms the review's text names ("certificate
    # expiry" under expiry no one owns): where one is known, recurrence works at that level.
    mechanisms = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "pattern"], name="unique_pattern_score")
        ]
        # Ties are common (every linked pattern scores 1.0): the incident id in the index lets
        # "the best N for this pattern" stop after N rows instead of reading them all.
        indexes = [
            models.Index(fields=["pattern", "-score", "-incident"], name="pattern_score_rank_idx")
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} ~ {self.pattern_id}: {self.score:.2f}"


class RecurringStructure(models.Model):
    """Derived: a structure seen in two or more incidents — one pattern, one known mechanism
    of a pattern, or two patterns that occur together well beyond chance.

    Written only by `incidents.analysis.recurrence`; `signature` makes the analysis idempotent.
    What "recurs" means is in docs/recurrence.md. The stored counts, costs and flags include
    restricted incidents; readers are shown only figures computed from what they may see
    (`incidents.selectors.recurring_structures_for`).
    """

    class Kind(models.TextChoices):
        PATTERN = "pattern", "Pattern"
        MECHANISM = "mechanism", "Mechanism"
        PAIR = "pair", "Two patterns together"

    signature = models.CharField(max_length=300, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PATTERN)
    # The catalogue mechanism's slug when kind is "mechanism"; blank otherwise.
    mechanism = models.CharField(max_length=200, blank=True)
    # What a lead reads: "Expiry no one owns: certificate expiry", "A + B".
    name = models.CharField(max_length=300, blank=True)
    pattern = models.ForeignKey(
        StructuralPattern, on_delete=models.CASCADE, related_name="recurring_structures"
    )
    patterns = models.ManyToManyField(StructuralPattern, related_name="+", blank=True)
    incidents = models.ManyToManyField(
        Incident,
        through="RecurrenceMembership",
        through_fields=("structure", "incident"),
        related_name="recurring_structures",
    )
    first_seen = models.DateTimeField(null=True)
    last_seen = models.DateTimeField(null=True)
    incident_count = models.PositiveIntegerField(default=0)
    # Of those, the members whose date is known (the others are in no window).
    dated_count = models.PositiveIntegerField(default=0)
    # How many members recurred (see RecurrenceMembership.recurred), and when the last began.
    recurrence_count = models.PositiveIntegerField(default=0)
    last_recurred_at = models.DateTimeField(null=True, blank=True)
    # True once a member recurred after the earlier member's action items aimed at this
    # structure were all done.
    recurred_despite_remediation = models.BooleanField(default=False)
    # Cost over all members (incidents.analysis.cost): severity-weighted incident-hours, and
    # how many members could not be weighed; users affected (None: no member's count known)
    # and how many members' counts are unknown.
    weighted_hours = models.FloatField(default=0.0)
    weighted_hours_unknown = models.PositiveIntegerField(default=0)
    users_affected = models.PositiveIntegerField(null=True, blank=True)
    users_affected_unknown = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-recurred_despite_remediation", "-weighted_hours", "id"]
        indexes = [
            models.Index(
                fields=["-recurred_despite_remediation", "-weighted_hours", "id"],
                name="structure_rank_idx",
            )
        ]

    def __str__(self) -> str:
        return self.name or self.signature


class RecurrenceMembership(models.Model):
    """Derived: one incident's place in a recurring structure."""

    structure = models.ForeignKey(
        RecurringStructure, on_delete=models.CASCADE, related_name="memberships"
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="recurrence_memberships"
    )
    # When the incident began; None when nobody knows (it cannot be placed in time).
    occurred_at = models.DateTimeField(null=True, blank=True)
    # When its review came to exist in Seams: from then on the organisation could learn.
    reviewed_at = models.DateTimeField(null=True, blank=True)
    basis = models.CharField(max_length=10, default="linked")
    # The latest earlier member of the same organisation whose review existed before this
    # incident began (None: none did), so this one *recurred*; whether that member's action
    # items aimed at the structure were all done before this one began; which kinds of
    # action those were (patch / structural).
    previous = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recurred = models.BooleanField(default=False)
    after_remediation = models.BooleanField(default=False)
    remediation_kinds = models.JSONField(default=list, blank=True)
    # The incident's cost (incidents.analysis.cost), so a reader's sums over the members
    # they may see are plain SQL: None when unknown.
    weighted_hours = models.FloatField(null=True, blank=True)
    users_affected = models.PositiveIntegerField(null=True, blank=True)
    # From when this incident's action items aimed at the structure were all done (None:
    # never — none aimed, or one not done), and their kinds: what a later member is judged
    # on, so a reader's view of the structure is computed from these rows alone.
    remediated_from = models.DateTimeField(null=True, blank=True)
    aimed_kinds = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["occurred_at", "incident_id"]
        constraints = [
            models.UniqueConstraint(fields=["structure", "incident"], name="unique_membership")
        ]
        indexes = [
            models.Index(fields=["structure", "occurred_at"], name="membership_time_idx"),
            models.Index(fields=["structure", "reviewed_at"], name="membership_reviewed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} in {self.structure_id}"


class ApiToken(models.Model):
    """A bot's credential. Only a SHA-256 digest of the key is stored; the key is shown once."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    name = models.CharField(max_length=100)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    prefix = models.CharField(max_length=8, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.scope})"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def generate(cls, *, name: str, user, scope: str) -> tuple[ApiToken, str]:
        """Create a token and return it with its plain key, which is never stored."""
        key = secrets.token_urlsafe(32)
        token = cls.objects.create(
            name=name, user=user, scope=scope, prefix=key[:8], digest=cls.hash_key(key)
        )
        return token, key

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.WRITE
