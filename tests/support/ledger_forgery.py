"""Tampering with the SQLite ledger table the way someone with write access to the file
must, now that SQLite refuses to write the indexed columns (they are generated from the
body, ``gateway.store.ledger_ddl``): rebuild the table with stored columns, the same
rows and the same indexes, then edit a column.
"""

from __future__ import annotations

from sqlalchemy import Connection

from gateway.store import schema
from gateway.store.db import Store
from gateway.store.ledger_ddl import INDEXED_COLUMNS

# ledger_ddl.SQLITE_LEDGER_TABLE without the GENERATED clauses
STORED_COLUMNS_TABLE = """
CREATE TABLE ledger_entries_forged (
    idx INTEGER NOT NULL PRIMARY KEY,
    leaf_hash BLOB NOT NULL,
    body BLOB,
    summary TEXT,
    action VARCHAR(32) NOT NULL,
    actor VARCHAR(64) NOT NULL,
    credit_code VARCHAR(18),
    outcome VARCHAR(16) NOT NULL,
    trace_id VARCHAR(64) NOT NULL,
    subject VARCHAR(128),
    time_us BIGINT NOT NULL
)
"""


def rebuild_with_stored_columns(store: Store) -> None:
    """Replace ``ledger_entries`` by a table holding the same values in stored columns."""
    columns = ", ".join(("idx", "leaf_hash", "body", "summary", *INDEXED_COLUMNS))

    def run(conn: Connection) -> None:
        conn.exec_driver_sql(STORED_COLUMNS_TABLE)
        conn.exec_driver_sql(
            f"INSERT INTO ledger_entries_forged ({columns}) SELECT {columns} FROM ledger_entries"
        )
        conn.exec_driver_sql("DROP TABLE ledger_entries")
        conn.exec_driver_sql("ALTER TABLE ledger_entries_forged RENAME TO ledger_entries")
        for index in schema.ledger_entries.indexes:
            index.create(conn)

    store.write(run)
    # a pooled connection that has not read the schema since compiles statements
    # against the old table (SQLite checks "cannot UPDATE generated column" then): the
    # forger's next edit gets a fresh connection
    store.engine.dispose()
