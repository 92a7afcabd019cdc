"""Every SQLite/PostgreSQL difference is in ``gateway/store/dialect.py`` (issue 11): no other
gateway module asks which engine it runs on by name; it asks the ``Dialect``
(``dialect_of(conn)``, ``store.dialect``) for the difference itself. The Alembic
migrations, which describe each revision for each engine, are the exception."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = ("gateway/store/dialect.py", "gateway/store/migrations/")

ENGINE_BY_NAME = re.compile(r"dialect\.name|\.sqlite\b|is_sqlite|postgresql")
# looking the Dialect up by SQLAlchemy's name of the engine is asking the Dialect
LOOKUP = re.compile(r"dialect_by_name\([\w.]*dialect\.name\)")


def test_only_the_dialect_names_the_engines() -> None:
    found = []
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(ALLOWED):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ENGINE_BY_NAME.search(LOOKUP.sub("", line)):
                found.append(f"{rel}:{number}: {line.strip()}")
    assert not found, "ask gateway.store.dialect instead:\n" + "\n".join(found)
