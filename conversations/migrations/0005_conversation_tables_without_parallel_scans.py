"""On PostgreSQL, the planner does not start parallel workers to scan conversations, their tags or
their messages.

Every read of these tables is a page of a list (51 rows, newest first) or one conversation. For a
search whose matches are rare the planner split the walk of the recency index between workers, and
starting them cost more than the walk: 35 ms instead of 20 ms for a rare tag, 40 ms instead of 18 ms
for a common word, at 1,000,000 conversations on two cores (bench/search.py). SQLite has no parallel
query.
"""

from django.db import migrations

TABLES = ["conversations_conversation", "conversations_conversation_tags", "conversations_message"]


def run(setting):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for table in TABLES:
                schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} {setting}")

    return apply


class Migration(migrations.Migration):
    dependencies = [("conversations", "0004_conversationread")]

    operations = [migrations.RunPython(run("SET (parallel_workers = 0)"), run("RESET (parallel_workers)"))]
