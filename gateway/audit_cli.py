"""``xinlian audit …``: verify, export, trace, search. (Being built.)"""

from __future__ import annotations

import click


@click.group("audit")
def audit_group() -> None:
    """Audit ledger: verify, export, trace, search."""
