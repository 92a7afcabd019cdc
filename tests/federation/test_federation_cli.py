"""``xinlian federation init|show`` and ``xinlian gateway link`` through the installed
command: --json for scripts, one line and a documented exit code for every user error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.federation import directory_size, gateway_at, link_to, wait_for
from support.installed_cli import assert_exit, xinlian

from gateway.host.home import init_home

pytestmark = pytest.mark.integration


def test_init_and_show_json(tmp_path: Path) -> None:
    home = tmp_path / "national"
    init_home(home, region="100000")
    made = xinlian("federation", "init", "--home", str(home), "--json")
    assert_exit(made, 0)
    top = json.loads(made.stdout)
    assert top["gateway_id"] == "gw-100000"
    assert top["directory_verifier_key"].startswith("xinlian-directory-gw-100000+")
    shown = xinlian("federation", "show", "--home", str(home), "--json")
    assert_exit(shown, 0)
    document = json.loads(shown.stdout)
    assert document["top"] is True and document["region"] == "100000"
    assert document["directory"] is None  # published once the gateway serves


def test_link_without_a_region_is_one_line_exit_2(tmp_path: Path) -> None:
    home = tmp_path / "member"
    init_home(home)
    ca = home / "ca" / "ca.pem"
    result = xinlian(
        "gateway",
        "link",
        "--home",
        str(home),
        "--upstream",
        "127.0.0.1:1",
        "--upstream-ca",
        str(ca),
    )
    assert_exit(result, 2)
    assert result.stderr.strip().count("\n") == 0 and "--region" in result.stderr


def test_link_to_nothing_listening_is_unreachable(tmp_path: Path) -> None:
    home = tmp_path / "member"
    init_home(home)
    ca = home / "ca" / "ca.pem"
    result = xinlian(
        "gateway", "link", "--home", str(home), "--upstream", "127.0.0.1:1",
        "--upstream-ca", str(ca), "--region", "610000",
    )  # fmt: skip
    assert_exit(result, 3)
    assert result.stderr.strip().count("\n") == 0, result.stderr


def test_show_of_a_linked_member_lists_the_directory_and_lag(tmp_path: Path) -> None:
    with (
        gateway_at(tmp_path, "national", "100000", top=True) as national,
        gateway_at(tmp_path, "fujian", "350000") as fujian,
    ):
        link_to(fujian, national)
        wait_for(lambda: directory_size(fujian) == 2, what="the directory")
        result = xinlian("federation", "show", "--home", str(fujian.home), "--json")
        assert_exit(result, 0)
        document = json.loads(result.stdout)
        assert document["upstream"] == {"gateway_id": "gw-100000", "region": "100000"}
        ids = [m["gateway_id"] for m in document["directory"]["members"]]
        assert ids == ["gw-100000", "gw-350000"]
        assert document["relay_lag"] == [
            {"peer": "gw-100000", "direction": "up", "cursor": 0, "pending_batches": 0}
        ]
        text = xinlian("federation", "show", "--home", str(fujian.home))
        assert_exit(text, 0)
        assert "gw-100000" in text.stdout and "relay up" in text.stdout


def test_a_gateway_linked_while_serving_starts_federating(tmp_path: Path) -> None:
    """A gateway started without a federation region, linked with ``--region`` while it
    serves, fetches the directory without a restart."""
    from support.federation import serve
    from support.postgres import free_port

    from gateway.host.config import GatewayConfig
    from gateway.host.federation_cli import link

    with gateway_at(tmp_path, "national", "100000", top=True) as national:
        home = tmp_path / "fujian"
        config = init_home(home)
        config = GatewayConfig(
            home=config.home,
            **{
                **config.model_dump(),
                "listen": f"127.0.0.1:{free_port()}",
                "enroll_listen": f"127.0.0.1:{free_port()}",
                "ops_listen": "",
                "federation_relay_interval_s": 0.2,
            },
        )
        config.save()
        fujian = serve(config, tmp_path)
        try:
            assert fujian.runtime.federation is None
            applied = xinlian(
                "gateway", "link", "--home", str(home), "--upstream", national.enroll_address,
                "--upstream-ca", str(national.config.ca_cert), "--region", "350000", "--json",
            )  # fmt: skip
            assert_exit(applied, 0)
            assert json.loads(applied.stdout)["applied_as"] == "gw-350000"
            token = national.admit("gw-350000")
            reloaded = GatewayConfig.load(home)
            link(reloaded, national.enroll_address, national.ca_pem, token)
            wait_for(lambda: directory_size(fujian) == 2, what="the directory")
        finally:
            fujian.stop()


def test_directory_key_rotation_without_stopping(tmp_path: Path) -> None:
    with (
        gateway_at(tmp_path, "national", "100000", top=True) as national,
        gateway_at(tmp_path, "fujian", "350000") as fujian,
    ):
        link_to(fujian, national)
        wait_for(lambda: directory_size(fujian) == 2, what="the directory")
        fed = fujian.runtime.federation
        started = xinlian("federation", "rotate-key", "--home", str(national.home), "--json")
        assert_exit(started, 0)
        keys = json.loads(started.stdout)
        # (1) both keys sign and are listed: the member pins both
        wait_for(lambda: len(fed.pinned()) == 2, what="both keys pinned")
        finished = xinlian(
            "federation", "rotate-key", "--home", str(national.home), "--finish", "--json"
        )
        assert_exit(finished, 0)
        assert json.loads(finished.stdout)["directory_verifier_key"] == keys["next"]
        # (2) the new key alone: still accepted, the old one no longer pinned
        wait_for(lambda: fed.pinned() == [keys["next"]], what="the new key alone")
        assert fed.directory.signer_keys == (keys["next"],)
        again = xinlian("federation", "rotate-key", "--home", str(fujian.home), "--finish")
        assert_exit(again, 6)
        assert "not the top" in again.stderr
