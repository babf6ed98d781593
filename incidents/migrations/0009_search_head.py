"""A small stored tsvector of each review's title and opening, for ranking (PostgreSQL only).

Matching still uses the full `search_vector` through its GIN index. Ranking every match by
that full vector means reading each 3 KB review's vector out of TOAST storage, which made
a search that matched a thousand reviews take tens of milliseconds before any row was sent.
The head vector (title, weight A, and the first 500 characters of the summary, weight B) is
a few hundred bytes and lives in the row itself.
"""

from django.db import migrations

ADD = """
ALTER TABLE incidents_incident ADD COLUMN IF NOT EXISTS search_head tsvector
GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, COALESCE("title", '')), 'A')
    || setweight(to_tsvector('english'::regconfig, LEFT(COALESCE("summary", ''), 500)), 'B')
) STORED;
"""
REMOVE = "ALTER TABLE incidents_incident DROP COLUMN IF EXISTS search_head;"


def add(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ADD)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REMOVE)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0008_report_page")]

    operations = [migrations.RunPython(add, remove)]
