"""The committed generated code matches what proto/ generates now."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_proto"] = module
    spec.loader.exec_module(module)
    generated = module.generate(tmp_path)
    assert generated
    committed_dir = ROOT / "xinlian" / "v1"
    stale = []
    for path in generated:
        committed = committed_dir / path.name
        if not committed.exists() or committed.read_bytes() != path.read_bytes():
            stale.append(path.name)
    extra = {p.name for p in committed_dir.glob("*_pb2*")} - {p.name for p in generated}
    assert not stale and not extra, (
        f"generated code is stale ({stale}, extra {sorted(extra)}); run `make proto`"
    )
