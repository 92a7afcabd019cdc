"""The layers of the code base, checked from the source with ``ast`` (nothing is imported).

Bottom to top (a module may import its own layer and the layers below it):

    xinlian (shared: errors, signing, clock, identity, pki, limits, batch format; not the CLI)
      <- authz, audit                   (pure domain: no gRPC, no SQL, no gateway)
      <- gateway.core                   (caller, validation)
      <- gateway.store                  (schema, migrations, committer, ledger/records)
      <- gateway.flows, gateway.verify  (one module per use case)
      <- gateway.services, gateway.edge (the wire and the interceptor chain)
      <- gateway.host                   (home, config, serve, operator commands)
      <- xinlian_cli                    (the ``xinlian`` command)

Within the gateway only ``gateway.services`` (and the server that registers the servicers)
imports the generated protobuf code.

``node_agent`` (the client side) stands beside the gateway and imports only xinlian, authz
and audit; ``xinlian_samples`` (synthetic data) imports only xinlian and authz.

A second rule keeps hand-written modules below ``MAX_LINES``; the exceptions are listed by
name with the split that removes them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("xinlian", "xinlian_cli", "xinlian_samples", "authz", "audit", "gateway", "node_agent")
GENERATED = ("xinlian/v1/",)
MAX_LINES = 500

# (layer rank, name); a prefix match, longest first
LAYERS: dict[str, int] = {
    "xinlian": 0,
    "authz": 1,
    "audit": 1,
    "gateway": 2,  # the package itself (__init__ only)
    "gateway.core": 2,
    "gateway.store": 3,
    "gateway.flows": 4,
    "gateway.verify": 4,
    "gateway.services": 5,
    "gateway.edge": 5,
    "gateway.host": 6,
    "xinlian_cli": 7,
}

# What a package may import of the project's packages (beyond itself), when the rank rule
# is not the whole story.
ONLY: dict[str, tuple[str, ...]] = {
    "xinlian": (),
    "authz": ("xinlian",),
    "audit": ("xinlian",),
    "node_agent": ("xinlian", "authz", "audit"),
    "xinlian_samples": ("xinlian", "authz"),
}

# Third-party packages the pure domain packages never import.
FORBIDDEN_THIRD_PARTY: dict[str, tuple[str, ...]] = {
    "authz": ("grpc", "sqlalchemy", "alembic", "google.protobuf", "xinlian.v1"),
    "audit": ("grpc", "sqlalchemy", "alembic", "google.protobuf", "xinlian.v1"),
}

# The gateway modules that may import the generated wire code (xinlian.v1): the servicers,
# and the server, which registers them.
WIRE_MODULES = ("gateway.services", "gateway.host.server")

# Imports that break a rule today, each with the change that removes it. The test also fails
# when a listed import is gone, so that this list only shrinks.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}

# Modules longer than MAX_LINES today, each with the split that brings it under.
LONG_MODULES: dict[str, str] = {}


def _modules(generated: bool = False) -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(GENERATED) and not generated:
                continue
            parts = rel[:-3].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


MODULES = dict(_modules())
"""The hand-written modules, by dotted name: the ones checked."""
KNOWN = set(dict(_modules(generated=True)))
"""Every module of the project, generated ones included: what an import may name."""


def _imports(module: str, path: Path) -> Iterator[str]:
    """Every module ``module`` imports (``from a.b import c`` is ``a.b.c`` when that is a
    module of the project, else ``a.b``); relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in KNOWN else base


def _exists(name: str) -> bool:
    return name in KNOWN or any(m.startswith(name + ".") for m in KNOWN)


def _top(name: str) -> str:
    return name.split(".")[0]


def _rank(name: str) -> int | None:
    best = None
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            best = LAYERS[prefix]
            break
    return best


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _problems() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for module, path in MODULES.items():
        top = _top(module)
        for target in _imports(module, path):
            ttop = _top(target)
            project = ttop in PACKAGES
            if top in FORBIDDEN_THIRD_PARTY and _within(target, FORBIDDEN_THIRD_PARTY[top]):
                found[(module, target)] = f"{top} is pure domain code: no {target}"
                continue
            if not project:
                continue
            if top in ONLY and ttop != top and ttop not in ONLY[top]:
                found[(module, target)] = f"{top} imports only {', '.join(ONLY[top]) or '-'}"
                continue
            if ttop == "xinlian_cli" and top != "xinlian_cli":
                found[(module, target)] = "only the command imports the command"
                continue
            if ttop == "node_agent" and top == "gateway":
                found[(module, target)] = "the gateway does not import the client"
                continue
            mine, theirs = _rank(module), _rank(target)
            if mine is not None and theirs is not None and theirs > mine:
                found[(module, target)] = f"layer {mine} imports layer {theirs}"
                continue
            if module.startswith("gateway.edge") and target.startswith("gateway.services"):
                found[(module, target)] = "the edge does not import the services"
                continue
            if (
                top == "gateway"
                and _within(target, ("xinlian.v1",))
                and not _within(module, WIRE_MODULES)
            ):
                found[(module, target)] = "only gateway.services touches protobuf messages"
    return found


def test_every_package_is_found() -> None:
    assert {_top(m) for m in MODULES} == set(PACKAGES)


def test_no_lower_layer_imports_a_higher_one() -> None:
    problems = _problems()
    new = {k: v for k, v in problems.items() if k not in KNOWN_VIOLATIONS}
    assert not new, "\n".join(f"{a} imports {b}: {why}" for (a, b), why in sorted(new.items()))


def test_known_violations_are_still_there() -> None:
    """A violation that was fixed must leave ``KNOWN_VIOLATIONS``."""
    problems = _problems()
    # a pair whose modules do not exist (yet) in this checkout is not asked for
    gone = sorted(
        k
        for k in KNOWN_VIOLATIONS
        if k not in problems
        and k[0] in MODULES
        and k[1].split(".")[0] in PACKAGES
        and _exists(k[1])
    )
    assert not gone, f"fixed, remove from KNOWN_VIOLATIONS: {gone}"


@pytest.mark.parametrize("package", ["authz", "audit"])
def test_domain_packages_import_no_wire_sql_or_gateway(package: str) -> None:
    bad = [
        f"{m} imports {t}"
        for m, p in MODULES.items()
        if _top(m) == package
        for t in _imports(m, p)
        if _within(t, (*FORBIDDEN_THIRD_PARTY[package], "gateway", "node_agent", "xinlian_cli"))
    ]
    assert not bad


def test_flows_import_no_services_or_edge() -> None:
    bad = {
        (m, t)
        for m, p in MODULES.items()
        if m.startswith(("gateway.flows", "gateway.verify", "gateway.store", "gateway.core"))
        for t in _imports(m, p)
        if _within(t, ("gateway.services", "gateway.edge"))
    }
    assert not bad - set(KNOWN_VIOLATIONS)


def test_modules_stay_short() -> None:
    long = {}
    for package in (*PACKAGES, "bench", "scripts"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(GENERATED):
                continue
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > MAX_LINES:
                long[rel] = n
    unlisted = {k: v for k, v in long.items() if k not in LONG_MODULES}
    assert not unlisted, f"over {MAX_LINES} lines: {unlisted}"
    fixed = sorted(set(LONG_MODULES) - set(long))
    assert not fixed, f"now short, remove from LONG_MODULES: {fixed}"
