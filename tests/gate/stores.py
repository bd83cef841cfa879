"""The test's gate database as someone other than the gate reaches it, on either store (`gate_store`,
tests/conftest.py): the `--db` argument that names it, rows changed past the append-only triggers, a backup and
its restore.

What the tamperer can do differs by store, the harm does not: on SQLite, whoever holds the file drops the
triggers, changes rows and puts the triggers back; on PostgreSQL, a superuser (the tests' server runs the gate as
one; in production, whoever administers the server) sets `session_replication_role = replica`, in which no
ordinary trigger fires. Either way the structure is left as it was, so only the keyed chain can tell.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from generator.gate import db


def db_argument(where: db.Location) -> str:
    """`--db` for a CLI command: the path, or the whole URL (its str() is a label without a password)."""
    return where.url if isinstance(where, db.PostgresUrl) else str(where)


@contextlib.contextmanager
def past_the_triggers(where: db.Location) -> Iterator[db.Tx]:
    """A write transaction of its own on the database, in which the append-only triggers do not stop anything;
    they are in place again (on SQLite, recreated as the migration made them) when it commits."""
    database = db.open_database(where)
    try:
        with database.write() as tx:
            if database.dialect == "postgresql":
                tx.execute("SET LOCAL session_replication_role = replica")
            else:
                tx.execute("DROP TRIGGER events_append_only_update")
                tx.execute("DROP TRIGGER events_append_only_delete")
            yield tx
            if database.dialect == "sqlite":
                for statement in db._statements(db._V2):
                    if statement.startswith("CREATE TRIGGER"):
                        tx.execute(statement)
    finally:
        database.close()


def tamper(where: db.Location, *statements: str) -> None:
    """Run `statements` past the append-only triggers, leaving the structure untouched."""
    with past_the_triggers(where) as tx:
        for statement in statements:
            tx.execute(statement)


# ---------------------------------------------------------------- a backup, put back later


def _server(url: db.PostgresUrl) -> tuple[str, str]:
    """The server's maintenance database (to copy and drop others from) and the name of the gate's database."""
    parts = urlsplit(url.url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, "")), parts.path.strip("/")


def _quiet(connection: Any, name: str) -> None:
    """Wait until nothing is connected to `name` (a template must be unused; a closed pool's sessions end a
    moment after it returns)."""
    deadline = time.monotonic() + 10
    while connection.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()[0]:
        assert time.monotonic() < deadline, f"sessions on {name} did not end"
        time.sleep(0.05)


def backup(where: db.Location, copy: str) -> None:
    """A copy of the whole database as it is now, kept under `copy` (a file name next to a SQLite database, a
    database's name on the same PostgreSQL server). Nothing may have the database open."""
    import shutil

    if isinstance(where, db.PostgresUrl):
        import psycopg

        maintenance, name = _server(where)
        with psycopg.connect(maintenance, autocommit=True) as connection:
            _quiet(connection, name)
            connection.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    else:
        shutil.copyfile(where, where.with_name(copy))


def restore(where: db.Location, copy: str) -> None:
    """Put the copy `backup` made back in the database's place, as an operator restoring a backup would."""
    import shutil

    if isinstance(where, db.PostgresUrl):
        import psycopg

        maintenance, name = _server(where)
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            _quiet(connection, copy)
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{copy}"')
    else:
        for suffix in ("-wal", "-shm"):  # the log of the database replaced must not be replayed into the copy
            where.with_name(where.name + suffix).unlink(missing_ok=True)
        shutil.copyfile(where.with_name(copy), where)
