"""On PostgreSQL, a trigram index makes "website URL contains ..." searches use an index.

SQLite has no such index; the same search scans there, which suits the small embedded default.
"""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS conv_page_url_trgm_idx ON conversations_conversation USING gin (page_url gin_trgm_ops)",
]
DROP = ["DROP INDEX IF EXISTS conv_page_url_trgm_idx"]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]

    operations = [migrations.RunPython(run(CREATE), run(DROP))]
