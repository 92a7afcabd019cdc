"""``xinlian audit …``: verify, export, trace, search, prune, checkpoint.

Operator commands read the gateway's database directly (``--home``, on the gateway
host: :mod:`gateway.host.audit_cli`); officer commands go over gRPC with an officer
identity (``--identity``: :mod:`node_agent.audit_cli`). ``verify`` and ``export`` serve
both, so they are put together here, the one place that imports both halves.

    xinlian audit verify --home DIR [--json]          whole ledger + provenance, from the DB
        [--require-covered]                           (entries after the last checkpoint fail)
    xinlian audit verify --export DIR [--json]        an export, RFC 9162 + signed note only
    xinlian audit export --home DIR --out OUT         operator export (signs a checkpoint)
    xinlian audit export --identity DIR --out OUT     officer export over gRPC
    xinlian audit trace --identity DIR --record ID [--source NODE] [--json]
    xinlian audit trace --identity DIR --enterprise CODE [--json]
    xinlian audit trace --identity DIR --trace-id T [--json]   each hop proven by its peer
    xinlian audit search --identity DIR [--node N] [--enterprise C] [--action A]
                         [--outcome O] [--since ISO] [--until ISO] [--page-size N]
                         [--page-token T] [--json]
    xinlian audit prune --home DIR [--dry-run]
    xinlian audit checkpoint --home DIR
    xinlian audit witness --home DIR [--evidence] [--json]    cosign peers now / split views

Exit status (``xinlian.exit_codes``): verify 0 when everything verifies, 1 otherwise (the
first bad index is named); prune 1 when it refused to erase a batch that does not verify.
"""

from __future__ import annotations

from pathlib import Path

import click

from audit.export_writer import ExportOrderError
from audit.verify_export import verify_export
from gateway.host.audit_cli import (
    HOME_OPTION,
    checkpoint_cmd,
    export_home,
    prune_cmd,
    show_verify_report,
    verify_home,
)
from gateway.host.witness_cli import witness_cmd
from node_agent.audit_cli import (
    GATEWAY_OPTION,
    IDENTITY_OPTION,
    JSON_OPTION,
    emit_json,
    export_identity,
    require_one,
    search_cmd,
    show_export_check,
    trace_cmd,
)
from xinlian.console import print_json
from xinlian.exit_codes import CommandExit, ExitCode


@click.group("audit")
def audit_group() -> None:
    """Audit ledger: verify, export, trace, search, prune, checkpoint, witness."""


@audit_group.command("verify")
@HOME_OPTION
@click.option(
    "--export",
    "export_dir",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Verify an export directory instead (entries.jsonl, checkpoint, verifier.key).",
)
@click.option(
    "--require-covered",
    is_flag=True,
    help="Fail if entries after the latest signed checkpoint exist (an export is always "
    "covered by its checkpoint).",
)
@JSON_OPTION
def verify_cmd(
    home: Path | None, export_dir: Path | None, as_json: bool, require_covered: bool
) -> None:
    """Verify the ledger (leaf hashes, roots, checkpoints, provenance); exit 1 if bad."""
    require_one(home=home, export=export_dir)
    if export_dir is not None:
        result = verify_export(export_dir)
        if as_json:
            emit_json(result.to_json())
        else:
            show_export_check(result)
        ok = result.ok
    else:
        assert home is not None
        report = verify_home(home, require_covered=require_covered)
        if as_json:
            emit_json(report.to_json())
        else:
            show_verify_report(report)
        ok = report.ok
    if not ok:
        raise CommandExit(ExitCode.INTEGRITY)


@audit_group.command("export")
@HOME_OPTION
@IDENTITY_OPTION
@GATEWAY_OPTION
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def export_cmd(
    home: Path | None, identity: Path | None, gateway: str | None, out: Path, as_json: bool
) -> None:
    """Write entries.jsonl, checkpoint and verifier.key for offline verification."""
    require_one(home=home, identity=identity)
    try:
        if home is not None:
            count, note = export_home(home, out)
        else:
            assert identity is not None
            count, note = export_identity(identity, gateway, out)
    except ExportOrderError as exc:
        raise click.ClickException(str(exc)) from exc
    size = note.split("\n")[1] if note.count("\n") > 1 else "?"
    if as_json:
        print_json({"entries": count, "checkpoint_size": size, "out": str(out)})
        return
    click.echo(f"exported {count} entries (checkpoint size {size}) to {out}")
    click.echo(f"verify with: xinlian audit verify --export {out}")


audit_group.add_command(trace_cmd)
audit_group.add_command(search_cmd)
audit_group.add_command(prune_cmd)
audit_group.add_command(checkpoint_cmd)
audit_group.add_command(witness_cmd)
