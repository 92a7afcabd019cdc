"""The witnessing commands through the installed ``xinlian``: exit statuses and one-line
errors (a gateway with no peers, no evidence, usage errors)."""

from __future__ import annotations

from pathlib import Path

from support.installed_cli import xinlian

from gateway.host.home import init_home


def test_witness_commands_on_a_gateway_without_peers(tmp_path: Path) -> None:
    home = tmp_path / "gw"
    init_home(home)
    done = xinlian("audit", "witness", "--home", str(home))
    assert done.returncode == 0, done.stderr
    assert "no witness peers configured" in done.stdout
    done = xinlian("audit", "witness", "--home", str(home), "--evidence", "--json")
    assert done.returncode == 0 and '"split_views": []' in done.stdout
    # a home that is not one: one line, exit 6 (FAILED), no traceback
    done = xinlian("audit", "witness", "--home", str(tmp_path / "nothing"))
    assert done.returncode == 6 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    # a trace needs the officer's identity: a usage error, exit 2
    done = xinlian("audit", "trace", "--trace-id", "t-1")
    assert done.returncode == 2
    # a bad witness_peers entry in config.json names the key, exit 2
    config = home / "config.json"
    config.write_text(
        config.read_text().replace('"witness_peers": []', '"witness_peers": [{"x": 1}]')
    )
    done = xinlian("audit", "witness", "--home", str(home))
    assert done.returncode == 2 and "witness_peers" in done.stderr
