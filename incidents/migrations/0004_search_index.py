"""A GIN index for full-text search on PostgreSQL (the embedded SQLite mode does without)."""

from django.db import migrations

# Must match incidents.search.SEARCH_VECTOR exactly, or PostgreSQL will not use the index.
CREATE = """
CREATE INDEX IF NOT EXISTS incident_search_idx ON incidents_incident USING gin ((
    setweight(to_tsvector('english'::regconfig, COALESCE("title", '')), 'A')
    || setweight(to_tsvector('english'::regconfig, COALESCE("summary", '')), 'B')
))
"""
DROP = "DROP INDEX IF EXISTS incident_search_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_recurrence_engine")]

    operations = [migrations.RunPython(create, drop)]
