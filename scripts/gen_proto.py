"""Regenerate the Python code of the wire contract from proto/ into OUT (default: .).

    python scripts/gen_proto.py [OUT]

The generated files (xinlian/v1/*_pb2*.py[i]) are committed; tests/wire/test_proto_fresh.py
fails when they are stale.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"


def generate(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(PROTO_ROOT.glob("xinlian/v1/*.proto"))
    include = str(resources.files("grpc_tools").joinpath("_proto"))
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *[str(p.relative_to(PROTO_ROOT)) for p in protos],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    pkg = out / "xinlian" / "v1"
    (pkg / "__init__.py").write_text('"""Generated wire contract, package xinlian.v1."""\n')
    return sorted(pkg.glob("*"))


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
