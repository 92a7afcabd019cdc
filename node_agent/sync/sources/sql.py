"""A table or query in any database SQLAlchemy reaches (PostgreSQL, MySQL, SQLite;
Oracle or 达梦 where their dialects are installed).

The configured ``query`` is wrapped as a subquery and read in order of its
``watermark`` column (an updated-at time or an increasing id), after the saved value::

    SELECT * FROM (<query>) AS src WHERE src.<watermark> > :saved ORDER BY src.<watermark>
    LIMIT :page

SQLAlchemy compiles the limit in each dialect's own form. A page that is full is cut
before its last watermark value (rows sharing it may continue on the next page, and a
saved watermark must cover all of them); a page of one value only is read whole.
The URL carries no password: ``password_env`` or ``password_file`` supplies it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from node_agent.sync.config import SourceConfig, SyncConfigError
from node_agent.sync.secrets import read_secret
from node_agent.sync.sources.base import Page, SourceError

POOL_RECYCLE_S = 1800  # department databases often cut idle connections
MAX_REREAD_KEYS = 1000  # ids per resync query (IN lists are bounded in some databases)


class SqlSource:
    def __init__(self, config: SourceConfig) -> None:
        try:
            url = make_url(config.text("url"))
        except sa.exc.ArgumentError:
            raise SyncConfigError("source.url: not a database URL") from None
        if url.password:
            raise SyncConfigError(
                "source.url: holds a password; remove it and name password_env or password_file"
            )
        password = read_secret(config, "password")
        if password:
            url = url.set(password=password)
        self.key_column = config.text("watermark")
        self._engine = sa.create_engine(url, pool_pre_ping=True, pool_recycle=POOL_RECYCLE_S)
        self._sub = (
            sa.text(config.text("query")).columns(sa.column(self.key_column)).subquery("src")
        )
        self._key = self._sub.c[self.key_column]

    def close(self) -> None:
        self._engine.dispose()

    def _rows(self, statement: sa.Select[Any]) -> list[dict[str, Any]]:
        try:
            with self._engine.connect() as conn:
                return [dict(row) for row in conn.execute(statement).mappings()]
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(f"source query failed: {_short(exc)}") from None

    def check(self, columns: set[str]) -> None:
        statement: sa.Select[Any] = (
            sa.select(sa.literal_column("*")).select_from(self._sub).limit(0)
        )
        try:
            with self._engine.connect() as conn:
                have = set(conn.execute(statement).keys())
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(f"source query failed: {_short(exc)}") from None
        missing = sorted((columns | {self.key_column}) - have)
        if missing:
            raise SyncConfigError(
                f"source.query: returns no column {', '.join(missing)} "
                f"(it returns {', '.join(sorted(have))})"
            )

    def _after(self, watermark: Any) -> sa.Select[Any]:
        statement: sa.Select[Any] = sa.select(sa.literal_column("*")).select_from(self._sub)
        if watermark is not None:
            statement = statement.where(self._key > watermark)
        return statement

    def read(self, watermark: Any, limit: int) -> Page:
        rows = self._rows(self._after(watermark).order_by(self._key).limit(limit))
        if len(rows) < limit:
            last = rows[-1][self.key_column] if rows else watermark
            return Page(rows, last, more=False, keys=[r[self.key_column] for r in rows])
        last = rows[-1][self.key_column]
        kept = [r for r in rows if r[self.key_column] != last]
        if not kept:  # one value fills the page: read all of its rows
            kept = self._rows(self._after(watermark).where(self._key == last))
        else:
            last = kept[-1][self.key_column]
        return Page(kept, last, more=True, keys=[r[self.key_column] for r in kept])

    def pending(self, watermark: Any) -> int | None:
        count = sa.select(sa.func.count()).select_from(self._sub)
        if watermark is not None:
            count = count.where(self._key > watermark)
        try:
            with self._engine.connect() as conn:
                return int(conn.execute(count).scalar_one())
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(f"source query failed: {_short(exc)}") from None

    def reread(self, keys: list[Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for start in range(0, len(keys), MAX_REREAD_KEYS):
            part = keys[start : start + MAX_REREAD_KEYS]
            statement = self._after(None).where(self._key.in_(part)).order_by(self._key)
            rows.extend(self._rows(statement))
        return rows


def _short(exc: sa.exc.SQLAlchemyError) -> str:
    """The driver's first line, without the statement and its parameters."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
