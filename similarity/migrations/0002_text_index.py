"""The database's own full-text index over the indexed reviews.

SQLite (the embedded mode): an FTS5 table over the three texts, kept in step by triggers,
with the Porter stemmer. PostgreSQL: two stored tsvector columns (the title weighted above the
review; the cause view on its own), each with a GIN index.
"""

import string

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE similarity_fts USING fts5(title, body, cause, "
    "content='similarity_indexeddocument', content_rowid='incident_id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER similarity_fts_insert AFTER INSERT ON similarity_indexeddocument BEGIN "
    "INSERT INTO similarity_fts(rowid, title, body, cause) "
    "VALUES (new.incident_id, new.title, new.body, new.cause); END",
    "CREATE TRIGGER similarity_fts_delete AFTER DELETE ON similarity_indexeddocument BEGIN "
    "INSERT INTO similarity_fts(similarity_fts, rowid, title, body, cause) "
    "VALUES ('delete', old.incident_id, old.title, old.body, old.cause); END",
    "CREATE TRIGGER similarity_fts_update AFTER UPDATE ON similarity_indexeddocument BEGIN "
    "INSERT INTO similarity_fts(similarity_fts, rowid, title, body, cause) "
    "VALUES ('delete', old.incident_id, old.title, old.body, old.cause); "
    "INSERT INTO similarity_fts(rowid, title, body, cause) "
    "VALUES (new.incident_id, new.title, new.body, new.cause); END",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS similarity_fts_update",
    "DROP TRIGGER IF EXISTS similarity_fts_delete",
    "DROP TRIGGER IF EXISTS similarity_fts_insert",
    "DROP TABLE IF EXISTS similarity_fts",
]


def _words_of(column: str) -> str:
    """`column` with ASCII punctuation read as spaces, before PostgreSQL's parser sees it.

    The parser keeps "api.example.com", "/var/log/app" or "10.0.0.1" as single tokens, but
    questions and searches are split into words (as FTS5 splits the stored text), so
    "example.com" would never match. (`%` is doubled: the statement goes through the
    driver's parameter formatting.)
    """
    punctuation = string.punctuation.replace("'", "''").replace("%", "%%")
    spaces = " " * len(string.punctuation)
    return f"translate(coalesce({column}, ''), '{punctuation}', '{spaces}')"


POSTGRESQL = [
    "ALTER TABLE similarity_indexeddocument ADD COLUMN document tsvector GENERATED ALWAYS AS ("
    f"setweight(to_tsvector('english'::regconfig, {_words_of('title')}), 'A') || "
    f"setweight(to_tsvector('english'::regconfig, {_words_of('body')}), 'B')) STORED",
    "ALTER TABLE similarity_indexeddocument ADD COLUMN cause_document tsvector GENERATED ALWAYS "
    f"AS (to_tsvector('english'::regconfig, {_words_of('cause')})) STORED",
    "CREATE INDEX similarity_document_gin ON similarity_indexeddocument USING gin (document)",
    "CREATE INDEX similarity_cause_gin ON similarity_indexeddocument USING gin (cause_document)",
]
POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS similarity_cause_gin",
    "DROP INDEX IF EXISTS similarity_document_gin",
    "ALTER TABLE similarity_indexeddocument DROP COLUMN IF EXISTS cause_document",
    "ALTER TABLE similarity_indexeddocument DROP COLUMN IF EXISTS document",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("similarity", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        ),
    ]
