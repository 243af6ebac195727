"""On PostgreSQL, ANALYZE keeps ten times the default statistics of conversations' page URLs.

The planner estimates how many conversations a "website URL contains" search matches by trying the
text on the URLs its statistics keep. With the default 100, one kept URL that happened to contain the
text counted for half a percent of all conversations: a product page 336 conversations had was taken
for 5,207, and the planner walked the recency index through 171,022 conversations (120 ms, 200 ms at
p95) instead of asking the trigram index (20 ms), at 1,000,000 conversations (bench/search.py). With
1,000 the same search is estimated at 585, and a common word ("checkout") still walks the recency
index, as it should. Planning a URL search costs about a millisecond more. SQLite has no statistics
of this kind.
"""

from django.db import migrations

TABLE, COLUMN = "conversations_conversation", "page_url"


def run(target):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            quote = schema_editor.quote_name
            schema_editor.execute(f"ALTER TABLE {quote(TABLE)} ALTER COLUMN {quote(COLUMN)} SET STATISTICS {target}")

    return apply


class Migration(migrations.Migration):
    dependencies = [("conversations", "0005_conversation_tables_without_parallel_scans")]

    operations = [migrations.RunPython(run(1000), run(-1))]
