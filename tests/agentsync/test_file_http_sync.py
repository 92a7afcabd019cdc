"""The drop-directory and HTTP sources: each synced once, then resumed after new data."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from support.harness import Gateway

from tests.agentsync.helpers import status, stored, xinlian
from xinlian_samples.tax_source import tax_rows, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: str(v) for k, v in row.items()} for row in rows]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")  # written aside, then renamed in
    tmp.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _plain(rows)), encoding="utf-8"
    )
    tmp.rename(path)


def test_directory_source_each_file_once(tmp_path: Path, gateway: Gateway) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    rows = tax_rows(30)
    _write_jsonl(drop / "a.jsonl", rows[:20])
    header = ",".join(rows[0])
    (drop / "b.csv").write_text(
        header + "\n" + "".join(",".join(r.values()) + "\n" for r in _plain(rows[20:25])),
        encoding="utf-8",
    )
    identity = gateway.enroll_node("department", categories=("tax",))
    config = write_config(
        tmp_path / "agent.toml",
        identity=identity.files.root,
        state_dir=tmp_path / "state",
        source=f'kind = "directory"\npath = "{drop}"',
    )
    first = xinlian("agent", "sync", "--config", str(config), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["categories"][0]["accepted"] == 25
    assert sorted(p.name for p in (drop / "done").iterdir()) == ["a.jsonl", "b.csv"]
    assert not list(drop.glob("*.jsonl")) and not list(drop.glob("*.csv"))
    # resumed: a new file only
    _write_jsonl(drop / "c.jsonl", rows[25:])
    second = xinlian("agent", "sync", "--config", str(config), "--json")
    summary = json.loads(second.stdout)["categories"][0]
    assert (summary["read"], summary["accepted"], summary["duplicates"]) == (5, 5, 0)
    assert len(stored(gateway.config.database_url, identity.node_id)) == 30
    assert status(config)["pending"] == 0


class _Api(BaseHTTPRequestHandler):
    rows: ClassVar[list[dict[str, Any]]] = []
    requests: ClassVar[list[dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        self.requests.append(query)
        if self.headers.get("Authorization") != "Bearer s3cret":
            self.send_response(401)
            self.end_headers()
            return
        limit = int(query["limit"][0])
        if "since" in query:  # time-window paging
            since, until = query["since"][0], query["until"][0]
            inside = [r for r in self.rows if since < r["changed_at"] <= until]
            page = int(query["page"][0])
            body: dict[str, Any] = {"items": inside[(page - 1) * limit : page * limit]}
        else:
            after = int(query.get("cursor", ["0"])[0])
            items = [r for r in self.rows if int(r["id"]) > after][:limit]
            body = {"items": items, "next_cursor": str(items[-1]["id"]) if items else None}
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[tuple[str, type[_Api]]]:
    rows = _plain(tax_rows(45))
    for row in rows:
        row["changed_at"] = "2025-03-01T00:00:00Z"
    handler = type("Api", (_Api,), {"rows": rows, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tax", handler
    finally:
        server.shutdown()
        server.server_close()


def test_http_source_pages_by_cursor_and_resumes(
    tmp_path: Path, gateway: Gateway, api: tuple[str, type[_Api]]
) -> None:
    url, handler = api
    all_rows = handler.rows
    handler.rows = all_rows[:40]
    token = tmp_path / "token"
    token.write_text("s3cret\n", encoding="utf-8")
    identity = gateway.enroll_node("department", categories=("tax",))
    config = write_config(
        tmp_path / "agent.toml",
        identity=identity.files.root,
        state_dir=tmp_path / "state",
        source=f'kind = "http"\nurl = "{url}"\npaging = "cursor"\ntoken_file = "{token}"',
        extra="page_size = 15",
    )
    text = config.read_text(encoding="utf-8").replace("page_size = 2000\n", "")
    config.write_text(text, encoding="utf-8")
    first = xinlian("agent", "sync", "--config", str(config), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)["categories"][0]
    assert (summary["read"], summary["accepted"]) == (40, 40)
    assert status(config)["watermark"] == "40"
    handler.rows = all_rows  # five more appear
    second = xinlian("agent", "sync", "--config", str(config), "--json")
    summary = json.loads(second.stdout)["categories"][0]
    assert (summary["read"], summary["accepted"], summary["duplicates"]) == (5, 5, 0)
    assert handler.requests[-2]["cursor"] == ["40"]
    assert len(stored(gateway.config.database_url, identity.node_id)) == 45
    assert "s3cret" not in json.dumps(status(config))


def test_secret_in_config_is_refused(tmp_path: Path, gateway: Gateway) -> None:
    identity = gateway.enroll_node("department", categories=("tax",))
    config = write_config(
        tmp_path / "agent.toml",
        identity=identity.files.root,
        state_dir=tmp_path / "state",
        source='kind = "sql"\nurl = "postgresql://reader:hunter2@127.0.0.1/tax"\nquery = "x"',
    )
    done = xinlian("agent", "sync", "--config", str(config))
    assert done.returncode == 2
    assert "password_env or password_file" in done.stderr
    assert "hunter2" not in done.stderr


def test_directory_dry_run_moves_nothing(tmp_path: Path, gateway: Gateway) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    rows = tax_rows(6)
    _write_jsonl(drop / "a.jsonl", rows[:3])
    _write_jsonl(drop / "b.jsonl", rows[3:])
    identity = gateway.enroll_node("department", categories=("tax",))
    config = write_config(
        tmp_path / "agent.toml",
        identity=identity.files.root,
        state_dir=tmp_path / "state",
        source=f'kind = "directory"\npath = "{drop}"\nafter = "mark"',
    )
    done = xinlian("agent", "sync", "--config", str(config), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 6
    assert sorted(p.name for p in drop.iterdir()) == ["a.jsonl", "b.jsonl"]
    assert stored(gateway.config.database_url, identity.node_id) == []
    real = xinlian("agent", "sync", "--config", str(config))
    assert real.returncode == 0, real.stderr
    assert sorted(p.name for p in drop.iterdir()) == ["a.jsonl.done", "b.jsonl.done"]


def test_http_source_pages_by_time_window_and_resumes(
    tmp_path: Path, gateway: Gateway, api: tuple[str, type[_Api]]
) -> None:
    url, handler = api
    all_rows = handler.rows
    handler.rows = all_rows[:40]
    identity = gateway.enroll_node("department", categories=("tax",))
    config = write_config(
        tmp_path / "agent.toml",
        identity=identity.files.root,
        state_dir=tmp_path / "state",
        source=(
            f'kind = "http"\nurl = "{url}"\npaging = "window"\n'
            'token_env = "DEPT_API_TOKEN"\nstart = "2025-01-01T00:00:00Z"'
        ),
    )
    text = config.read_text(encoding="utf-8").replace("page_size = 2000", "page_size = 15")
    config.write_text(text, encoding="utf-8")
    env = {"DEPT_API_TOKEN": "s3cret"}
    first = xinlian("agent", "sync", "--config", str(config), "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["categories"][0]["accepted"] == 40
    assert [q["page"] for q in handler.requests] == [["1"], ["2"], ["3"]]
    window_end = status(config)["watermark"]["since"]
    # five rows change after the first window closed: the next window holds only them
    time.sleep(1.1)
    for row in all_rows[40:]:
        row["changed_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    handler.rows = all_rows
    time.sleep(1.1)
    second = xinlian("agent", "sync", "--config", str(config), "--json", env=env)
    summary = json.loads(second.stdout)["categories"][0]
    assert (summary["read"], summary["accepted"], summary["duplicates"]) == (5, 5, 0)
    assert handler.requests[-1]["since"] == [window_end]
    assert len(stored(gateway.config.database_url, identity.node_id)) == 45
