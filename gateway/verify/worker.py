"""The second process of a split verification (``gateway.verify.scan``).

Scans the ledger rows ``[START, END)`` of a SQLite file, opened read-only, with
``audit.leaf_scan.scan_rows`` and writes ``audit.leaf_scan.encode`` of the result to
standard output. It is started as a script with only the standard library and this
project's pure packages (``audit``, ``xinlian``) on its path, so it starts in a few
tens of milliseconds:

    python -I -S gateway/verify/worker.py DB_PATH START END

Exit status 0 with the encoded scan on stdout, 2 on bad arguments, 1 on a database
error (message on stderr).
"""

from __future__ import annotations

import gc
import os
import sys

_QUERY = "SELECT idx, leaf_hash, body FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx"


def main(argv: list[str]) -> int:
    # (1) the directory holding audit/ and xinlian/: -I leaves the script's own off the path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    import sqlite3

    from audit.leaf_scan import ROW_CHUNK, encode, scan_rows

    if len(argv) != 3:
        print("usage: verify_worker.py DB_PATH START END", file=sys.stderr)
        return 2
    try:
        path, start, end = argv[0], int(argv[1]), int(argv[2])
    except ValueError as exc:
        print(f"verify_worker: {exc}", file=sys.stderr)
        return 2
    # (2) no reference cycles are made: the collector would only rescan the rows
    gc.disable()
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True)
        try:
            cursor = conn.execute(_QUERY, (start, end))
            scan = scan_rows(iter(lambda: cursor.fetchmany(ROW_CHUNK), []), start)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        print(f"verify_worker: {os.path.basename(path)}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(encode(scan))
    sys.stdout.buffer.flush()
    return 0


def _read_only_uri(path: str) -> str:
    """A SQLite ``file:`` URI (read-only) for ``path``: the three characters a URI path
    gives a meaning to are escaped (not ``urllib``: a few milliseconds to import)."""
    quoted = os.path.abspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file:{quoted}?mode=ro"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
