"""The vocabulary Seams tags reviews with.

Shapes, patterns and leverage levels are shipped as TOML in `taxonomy/catalogue/` and loaded
by `taxonomy.catalogue`; organisations may edit them and add their own in the admin.
"""

from django.db import models
from django.urls import reverse


class EmergentShape(models.Model):
    """One of the four shapes a failure can take as a whole: cascade, concentration,
    worst-case interaction, recurrence. An incident may show several."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    summary = models.TextField()
    definition = models.TextField(blank=True)
    # The rest of the shipped entry (recognition questions, canonical incident, composition),
    # kept as structured JSON so pages and the API can show it section by section.
    entry = models.JSONField(default=dict, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        # Served by incidents.views_catalogue (the page lists reviews; see taxonomy.views).
        return reverse("incidents:shape", args=[self.slug])


class StructuralPattern(models.Model):
    """A named failure structure, independent of any component (e.g. fast global propagation).

    `shipped_digest` is the digest of the shipped entry last applied; comparing it with the
    current content tells a local edit apart from a change Seams ships.
    """

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=150)
    summary = models.TextField()
    definition = models.TextField(blank=True)
    aliases = models.JSONField(default=list, blank=True)
    entry = models.JSONField(default=dict, blank=True)
    typical_shapes = models.ManyToManyField(EmergentShape, blank=True, related_name="patterns")
    shipped = models.BooleanField(
        default=False, help_text="Part of the catalogue Seams ships (as opposed to a local one)."
    )
    shipped_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        # Served by incidents.views_catalogue (the page lists reviews; see taxonomy.views).
        return reverse("incidents:pattern", args=[self.slug])


class PatternRelation(models.Model):
    """A relation between two patterns: easily confused (stored both ways) or one leading to,
    or amplifying, the other."""

    class Kind(models.TextChoices):
        CONFUSED_WITH = "confused_with", "Easy to confuse with"
        LEADS_TO = "leads_to", "Leads to / amplifies"

    source = models.ForeignKey(
        StructuralPattern, on_delete=models.CASCADE, related_name="relations_out"
    )
    target = models.ForeignKey(
        StructuralPattern, on_delete=models.CASCADE, related_name="relations_in"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="unique_relation"),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target")), name="relation_not_reflexive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.get_kind_display().lower()} {self.target}"


class LeverageLevel(models.Model):
    """One of Meadows' twelve places to intervene in a system; 12 is the shallowest
    (parameters), 1 the deepest (transcending paradigms)."""

    number = models.PositiveSmallIntegerField(unique=True)
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=150)
    description = models.TextField()
    in_operations = models.TextField(blank=True)
    depth = models.CharField(max_length=10, blank=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"{self.number}. {self.name}"
