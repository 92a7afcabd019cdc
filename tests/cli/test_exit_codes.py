"""Exit codes (``xinlian.exit_codes``): the installed ``xinlian`` command ends with the
status of the table, not only under click's CliRunner (which reports 1 for any error and
so missed ``xinlian audit verify`` printing FAILED and exiting 0)."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import grpc
import pytest
from sqlalchemy.exc import OperationalError
from support.installed_cli import XINLIAN, assert_exit, xinlian

from gateway.host.home import init_home
from xinlian import errors
from xinlian.exit_codes import CommandExit, ExitCode
from xinlian_cli.main import TRACEBACK_ENV, run


def _tamper_body(body: bytes) -> bytes:
    changed = body.replace(b'"node.admitted"', b'"node.suspended"')
    assert changed != body
    return changed


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A gateway home on SQLite; its ledger holds the first administrator's admission."""
    init_home(tmp_path / "gateway")
    return tmp_path / "gateway"


@pytest.fixture
def tampered_db(home: Path, tmp_path: Path) -> str:
    """The URL of a copy of the store whose first ledger entry body was edited."""
    copy = tmp_path / "tampered.db"
    source = sqlite3.connect(home / "gateway.db")
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    (body,) = target.execute("SELECT body FROM ledger_entries WHERE idx = 0").fetchone()
    target.execute("UPDATE ledger_entries SET body = ? WHERE idx = 0", (_tamper_body(bytes(body)),))
    target.commit()
    target.close()
    return f"sqlite:///{copy}"


def test_the_installed_command_is_there() -> None:
    assert XINLIAN.exists(), XINLIAN


# ----------------------------------------------------------------- through the command


def test_clean_verify_exits_0(home: Path) -> None:
    result = xinlian("audit", "verify", "--home", str(home))
    assert_exit(result, ExitCode.OK)
    assert result.stdout.startswith("OK:"), result.stdout


@pytest.mark.parametrize("extra", [(), ("--json",)], ids=["text", "json"])
def test_verify_of_a_tampered_ledger_exits_1(
    home: Path, tampered_db: str, extra: tuple[str, ...]
) -> None:
    result = xinlian("audit", "verify", "--home", str(home), *extra, db_url=tampered_db)
    assert_exit(result, ExitCode.INTEGRITY)
    if extra:
        assert json.loads(result.stdout)["ok"] is False
    else:
        assert "FAILED: first bad index 0" in result.stderr


def test_verify_of_a_tampered_export_exits_1(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert_exit(xinlian("audit", "export", "--home", str(home), "--out", str(out)), ExitCode.OK)
    assert_exit(xinlian("audit", "verify", "--export", str(out)), ExitCode.OK)
    entries = out / "entries.jsonl"
    lines = entries.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["leaf"] = base64.b64encode(_tamper_body(base64.b64decode(first["leaf"]))).decode()
    entries.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8")
    result = xinlian("audit", "verify", "--export", str(out))
    assert_exit(result, ExitCode.INTEGRITY)
    assert "FAILED" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("audit", "verify", "--no-such-option"),
        ("no-such-command",),
        ("audit", "verify"),  # neither --home nor --export
        ("node", "whoami", "--identity", "/nonexistent/identity"),  # click checks the path
    ],
    ids=["option", "command", "missing-choice", "missing-identity-dir"],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = xinlian(*args)
    assert_exit(result, ExitCode.USAGE)
    assert "Usage:" in result.stderr


def test_a_missing_gateway_home_exits_6_with_one_line(tmp_path: Path) -> None:
    result = xinlian("audit", "verify", "--home", str(tmp_path / "nowhere"))
    assert_exit(result, ExitCode.FAILED)
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere' / 'config.json'} not found: run "
        f"`xinlian gateway init --home {tmp_path / 'nowhere'}` first"
    ]


def test_an_unreachable_database_exits_3(home: Path) -> None:
    # nothing listens on port 1 of the loopback: the connection is refused at once
    result = xinlian(
        "audit", "verify", "--home", str(home), db_url="postgresql://xinlian@127.0.0.1:1/x"
    )
    assert_exit(result, ExitCode.UNREACHABLE)
    assert result.stderr.startswith("error: database unreachable: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_node_command_against_a_closed_port_exits_3(home: Path) -> None:
    result = xinlian(
        "node", "whoami", "--identity", str(home / "admin"), "--gateway", "127.0.0.1:1"
    )
    assert_exit(result, ExitCode.UNREACHABLE)
    assert result.stderr.startswith("error: UNAVAILABLE: "), result.stderr


def test_a_missing_identity_file_exits_6(home: Path, tmp_path: Path) -> None:
    identity = tmp_path / "identity"
    shutil.copytree(home / "admin", identity)
    (identity / "node.pem").unlink()
    result = xinlian("node", "whoami", "--identity", str(identity), "--gateway", "127.0.0.1:1")
    assert_exit(result, ExitCode.FAILED)
    assert result.stderr.strip() == f"error: No such file or directory: {identity / 'node.pem'}"


def test_help_and_version_exit_0() -> None:
    assert_exit(xinlian("--help"), ExitCode.OK)
    assert_exit(xinlian("--version"), ExitCode.OK)


# ----------------------------------------------------------------- main()'s mapping


def _command(action: Callable[[], object]) -> click.Command:
    @click.command()
    def command() -> object:
        return action()

    return command


def _raise(exc: BaseException) -> Callable[[], object]:
    def action() -> object:
        raise exc

    return action


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str, reason: str | None = None) -> None:
        super().__init__()
        self._code = code
        self._details = details
        self._reason = reason

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:  # (key, value) pairs, as grpc gives them
        return (("xinlian-reason", self._reason),) if self._reason else ()


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (grpc.StatusCode.UNAVAILABLE, ExitCode.UNREACHABLE),
        (grpc.StatusCode.DEADLINE_EXCEEDED, ExitCode.UNREACHABLE),
        (grpc.StatusCode.PERMISSION_DENIED, ExitCode.DENIED),
        (grpc.StatusCode.UNAUTHENTICATED, ExitCode.DENIED),
        (grpc.StatusCode.NOT_FOUND, ExitCode.FAILED),
        (grpc.StatusCode.INVALID_ARGUMENT, ExitCode.FAILED),
        (grpc.StatusCode.FAILED_PRECONDITION, ExitCode.FAILED),
        (grpc.StatusCode.INTERNAL, ExitCode.FAILED),
    ],
)
def test_rpc_errors(
    status: grpc.StatusCode, code: ExitCode, capsys: pytest.CaptureFixture[str]
) -> None:
    error = FakeRpcError(status, "the details", reason="SOME_REASON")
    assert run([], _command(_raise(error))) == code
    assert capsys.readouterr().err == f"error: {status.name}: the details [SOME_REASON]\n"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.Unavailable("the store is unavailable"), ExitCode.UNREACHABLE),
        (errors.PermissionDenied("no"), ExitCode.DENIED),
        (errors.AccessDenied("no grant"), ExitCode.DENIED),
        (errors.Unauthenticated("who?"), ExitCode.DENIED),
        (errors.IntegrityViolation("entry 3 differs"), ExitCode.INTEGRITY),
        (errors.InvalidArgument("field: got 1, want 2"), ExitCode.FAILED),
        (errors.NotFound("no such node"), ExitCode.FAILED),
        (errors.AlreadyExists("exists"), ExitCode.FAILED),
        (errors.FailedPrecondition("not now"), ExitCode.FAILED),
        (errors.SchemaMismatch("run migrate"), ExitCode.FAILED),
        (errors.ResourceExhausted("too many"), ExitCode.FAILED),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_xinlian_errors(
    error: errors.XinLianError, code: ExitCode, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([], _command(_raise(error))) == code
    assert capsys.readouterr().err == f"error: {error}\n"


def test_database_errors_name_the_driver_message_never_the_statement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cause = OperationalError("SELECT secret FROM t", {"p": "hidden"}, Exception("refused\nmore"))
    assert run([], _command(_raise(cause))) == ExitCode.UNREACHABLE
    assert capsys.readouterr().err == "error: database unreachable: refused\n"

    def wrapped() -> None:
        raise errors.Unavailable("the store is unavailable") from cause

    assert run([], _command(wrapped)) == ExitCode.UNREACHABLE
    err = capsys.readouterr().err
    assert err == "error: the store is unavailable (refused)\n"
    assert "hidden" not in err and "SELECT" not in err


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (CommandExit(ExitCode.INTEGRITY), ExitCode.INTEGRITY, ""),
        (CommandExit(ExitCode.REJECTED, "2 records rejected"), 5, "2 records rejected\n"),
        (FileNotFoundError(2, "No such file or directory", "/x/key.pem"), 6, None),
        (PermissionError(13, "Permission denied", "/x/key.pem"), 6, None),
        (LookupError("grant g-1 not found; pass --credit-code"), 6, None),
        (click.ClickException("the ledger is empty"), ExitCode.FAILED, "Error: "),
        (click.UsageError("give exactly one of --home or --export"), ExitCode.USAGE, "Error: "),
        (click.BadParameter("got 'x', want ISO 8601"), ExitCode.USAGE, "Error: "),
        (click.Abort(), ExitCode.ABORTED, "aborted\n"),
        (KeyboardInterrupt(), ExitCode.ABORTED, "aborted\n"),
    ],
)
def test_other_outcomes(
    error: BaseException, code: int, message: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([], _command(_raise(error))) == code
    err = capsys.readouterr().err
    if message is None:  # an OSError or LookupError: one line, no traceback
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert "/x/key.pem" in err or "grant g-1" in err
    elif message.startswith("Error: "):
        assert message in err, err
    elif message.endswith("aborted\n"):
        assert err.endswith(message), err
    else:
        assert err == message


def test_ctx_exit_is_honoured() -> None:
    @click.command()
    @click.pass_context
    def command(ctx: click.Context) -> None:
        ctx.exit(ExitCode.REJECTED)

    assert run([], command) == ExitCode.REJECTED


def test_a_returned_value_is_not_a_status() -> None:
    assert run([], _command(lambda: None)) == ExitCode.OK
    assert run([], _command(lambda: True)) == ExitCode.OK


def test_an_unexpected_error_is_a_failure_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TRACEBACK_ENV, raising=False)
    assert run([], _command(_raise(RuntimeError("secret-ish text")))) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert "Traceback" not in err and "secret-ish" not in err
    assert err.strip() == (
        f"error: unexpected RuntimeError; this is a bug (set {TRACEBACK_ENV}=1 to print its"
        " traceback)"
    )


def test_an_unexpected_error_prints_its_traceback_when_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRACEBACK_ENV, "1")
    assert run([], _command(_raise(RuntimeError("bug")))) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: bug" in err
