"""The docs name files that exist (issue 11): every ``path/like/this.py`` in README.md and
docs/*.md is a file of the repository (a ``*`` in it matches at least one), every
``tests/….py::test_name`` names a test of that file, every ``folder/`` in backticks under a
top-level folder of the repository exists, and every migration named like
``0002_self_query_nonces`` is one. A module moved or renamed fails here until the docs say
where it went."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
MIGRATIONS = ROOT / "gateway" / "store" / "migrations" / "versions"

# Paths the docs may name that are not in the repository (a file the user makes, say),
# each with why.
EXCEPTIONS: dict[str, str] = {}
UNTRACKED = ("var",)
"""Top-level folders git ignores, whose sub-folders the docs may name (made at run time)."""

PY_PATH = re.compile(r"(?<![\w./~-])((?:[\w.-]+/)+[\w.*-]+\.py)(?:::(\w+))?")
FOLDER = re.compile(r"`((?:[\w.-]+/)+)`")
MIGRATION = re.compile(r"`(\d{4}_[a-z0-9_]+)`")


def _missing(doc: Path) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    # var/ is the untracked working area (demo, bench caches): present or not
    top = {p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in UNTRACKED}
    out = []
    for match in PY_PATH.finditer(text):
        path, test = match.group(1), match.group(2)
        if path in EXCEPTIONS:
            continue
        files = sorted(ROOT.glob(path)) if "*" in path else [ROOT / path]
        if not files or not all(f.is_file() for f in files):
            out.append(path)
        elif test and not re.search(rf"^(async )?def {test}\(", files[0].read_text(), re.M):
            out.append(f"{path}::{test}")
    for match in FOLDER.finditer(text):
        folder = match.group(1)
        if folder.split("/")[0] in top and not (ROOT / folder).is_dir():
            out.append(folder)
    for match in MIGRATION.finditer(text):
        if not (MIGRATIONS / f"{match.group(1)}.py").is_file():
            out.append(f"migration {match.group(1)}")
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_path_the_docs_name_exists(doc: Path) -> None:
    assert not _missing(doc), f"{doc.name} names what is not there: {_missing(doc)}"


def test_the_check_finds_what_is_missing(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "`gateway/flows/push.py` and `gateway/flows/pushing.py`, "
        "`tests/push/test_push_grpc.py::test_resend_is_idempotent`, "
        "`tests/push/test_push_grpc.py::test_no_such_test`, `gateway/nowhere/`, "
        "`gateway/store/`, migration `0001_initial` and `0009_none`",
        encoding="utf-8",
    )
    assert _missing(doc) == [
        "gateway/flows/pushing.py",
        "tests/push/test_push_grpc.py::test_no_such_test",
        "gateway/nowhere/",
        "migration 0009_none",
    ]
