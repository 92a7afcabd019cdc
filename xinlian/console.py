"""The console that commands print their tables on (stdout).

In a terminal, rich sizes tables to the terminal. In a pipe it would cut them at 80
columns (``…`` in place of the end of a node id that ``xinlian admin admit`` needs), so a
console on a pipe is given a width no table reaches: every cell comes out whole.
"""

from __future__ import annotations

import json
import sys

from rich.console import Console

PIPE_WIDTH = 100_000
"""Console width when stdout is not a terminal: wide enough that nothing is cut or wrapped."""


def data_console() -> Console:
    """A console on stdout for data; ``markup=False``: stored data is shown as is."""
    if sys.stdout.isatty():
        return Console(markup=False)
    return Console(markup=False, width=PIPE_WIDTH)


def print_json(document: object) -> None:
    """``--json`` output: one JSON document on stdout (errors stay on stderr)."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()
