"""Django's PostgreSQL backend, with a cheaper check of each pooled connection as it is handed out, and
cursors whose statements are prepared once per connection for the statements every chat message runs.

psycopg's own check (`ConnectionPool.check_connection`) sends an empty statement: one round trip
before every request and every websocket's database call, a tenth of a chat message's. A connection
the server has dropped (a restart, an idle timeout, `pg_terminate_backend`) has something to read on
its socket, the server's last error or the end of the stream, while a connection resting between two
statements has nothing; so the server is asked only when there is something to read.
"""

import select

from django.db.backends.postgresql import base
from django.utils.asyncio import async_unsafe


def check_pooled_connection(conn) -> None:
    """Return if the connection is good to use, raise if not (the pool then opens another)."""
    from psycopg import OperationalError
    from psycopg_pool import ConnectionPool

    if conn.closed:
        raise OperationalError("the connection is closed")
    socket = select.poll()
    socket.register(conn.fileno(), select.POLLIN)
    if socket.poll(0):  # an error, a notice, or the end: the server's answer tells which
        ConnectionPool.check_connection(conn)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        if pool is not None and self.settings_dict["CONN_HEALTH_CHECKS"]:
            # Django gives the pool psycopg's check and has no setting for another.
            pool._check = check_pooled_connection
        return pool

    @async_unsafe
    def preparing_cursor(self):
        """A cursor whose values are bound on the server, so psycopg prepares a statement it runs again
        on the same connection (`prepare_threshold`) and PostgreSQL only executes it from then on: parsing
        and planning took about half of PostgreSQL's time for each of the chat path's statements. Django's
        own cursors bind values into the text on the client, where a statement is never prepared."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(base.ServerBindingCursor(self.connection))
