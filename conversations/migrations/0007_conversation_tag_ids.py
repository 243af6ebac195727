"""On PostgreSQL, each conversation carries the ids of its tags in an array (`tag_ids`) with a GIN
index, kept by triggers on the conversation-tag links, so a tag search tests the conversation's own
row instead of looking its links up one conversation at a time.

A search for two tags at once ("all of") walked the newest conversations and probed the link index
twice for each, about 31,600 conversations for a page of 50: 38 ms of SQL at the median and 98 ms at
p95 through the API, at 1,000,000 conversations (bench/search.py). With the array, the planner either
walks the same index testing the row it reads anyway (10.6 ms; 36 ms at p95 through the API), or asks
the GIN index for the matches and sorts them (4.5 ms).

The database keeps the array, not the services: every way links change (a service, the admin, a
tag's deletion cascading to thousands of links, a data load) keeps it right, in the same
transaction. The triggers add or remove ids from the array as it is when their UPDATE runs, so two
agents tagging one conversation at once both keep their tag; they keep it a set (an id restored twice
is still removed by one untagging); and they name their tables through the search path the migration
ran with, as a restore by pg_dump empties it. The ids are bigint, as tags' ids are.

The model does not declare the column: SQLite has no arrays, and there the search asks the links as
before (`ConversationFilter.filter_tags`).
"""

from django.db import migrations

FORWARD = """
ALTER TABLE conversations_conversation ADD COLUMN tag_ids bigint[] NOT NULL DEFAULT '{}';

UPDATE conversations_conversation c SET tag_ids = linked.ids
  FROM (SELECT conversation_id, array_agg(tag_id) AS ids FROM conversations_conversation_tags GROUP BY 1) linked
 WHERE c.id = linked.conversation_id;

CREATE INDEX conv_tag_ids_idx ON conversations_conversation USING gin (tag_ids);

CREATE FUNCTION conversation_tag_ids_keep() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- Conversations are locked in id order first, so two statements changing the links of many
    -- (two tags deleted at once) cannot deadlock.
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM FROM conversations_conversation WHERE id IN (SELECT conversation_id FROM gone)
          ORDER BY id FOR NO KEY UPDATE;
        UPDATE conversations_conversation c
           SET tag_ids = ARRAY(
                   SELECT unnest(c.tag_ids) EXCEPT SELECT g.tag_id FROM gone g WHERE g.conversation_id = c.id)
         WHERE c.id IN (SELECT conversation_id FROM gone);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM FROM conversations_conversation WHERE id IN (SELECT conversation_id FROM came)
          ORDER BY id FOR NO KEY UPDATE;
        UPDATE conversations_conversation c
           SET tag_ids = ARRAY(SELECT DISTINCT unnest(c.tag_ids || added.ids))
          FROM (SELECT conversation_id, array_agg(tag_id) AS ids FROM came GROUP BY conversation_id) added
         WHERE c.id = added.conversation_id;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE conversations_conversation SET tag_ids = '{}' WHERE tag_ids <> '{}';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER conversation_tag_ids_on_insert AFTER INSERT ON conversations_conversation_tags
    REFERENCING NEW TABLE AS came FOR EACH STATEMENT EXECUTE FUNCTION conversation_tag_ids_keep();
CREATE TRIGGER conversation_tag_ids_on_delete AFTER DELETE ON conversations_conversation_tags
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION conversation_tag_ids_keep();
CREATE TRIGGER conversation_tag_ids_on_update AFTER UPDATE ON conversations_conversation_tags
    REFERENCING OLD TABLE AS gone NEW TABLE AS came FOR EACH STATEMENT EXECUTE FUNCTION conversation_tag_ids_keep();
CREATE TRIGGER conversation_tag_ids_on_truncate AFTER TRUNCATE ON conversations_conversation_tags
    FOR EACH STATEMENT EXECUTE FUNCTION conversation_tag_ids_keep();
"""

BACKWARD = """
DROP TRIGGER conversation_tag_ids_on_insert ON conversations_conversation_tags;
DROP TRIGGER conversation_tag_ids_on_delete ON conversations_conversation_tags;
DROP TRIGGER conversation_tag_ids_on_update ON conversations_conversation_tags;
DROP TRIGGER conversation_tag_ids_on_truncate ON conversations_conversation_tags;
DROP FUNCTION conversation_tag_ids_keep();
ALTER TABLE conversations_conversation DROP COLUMN tag_ids;
"""


def run(sql):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("conversations", "0006_page_url_finer_statistics")]

    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD))]
