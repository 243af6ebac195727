"""On PostgreSQL, a GIN index over the messages' words makes full-text search (`q=`) use an index.

The expression is exactly the one `conversations.filters.FullTextMatch` queries. SQLite has no such
index; search there falls back to a case-insensitive scan, which suits the small embedded default.
"""

from django.db import migrations

CREATE = [
    "CREATE INDEX IF NOT EXISTS message_body_fts_idx ON conversations_message "
    "USING gin (to_tsvector('simple', body))",
]
DROP = ["DROP INDEX IF EXISTS message_body_fts_idx"]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("conversations", "0002_page_url_trigram_index")]

    operations = [migrations.RunPython(run(CREATE), run(DROP))]
