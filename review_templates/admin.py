from django.contrib import admin

from .models import ReviewTemplate


@admin.register(ReviewTemplate)
class ReviewTemplateAdmin(admin.ModelAdmin):
    """Templates are defined on their own pages (/templates/); the admin lists them too."""

    list_display = ["name", "is_default", "created_at"]
    search_fields = ["name"]
