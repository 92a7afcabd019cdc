"""The container image, the compose file, the load balancer and the dependency locks,
checked by reading them (no container registry is reachable here, so no image is built
in CI): the image installs only locked, hashed dependencies, runs as a non-root user
whose data directory exists before its VOLUME, has a HEALTHCHECK and runs
``xinlian gateway serve``; compose starts two replicas on PostgreSQL behind a TCP load
balancer, after a one-shot migration, health-gated, with restart policies."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from support.cli_check import check_argv

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UID = "10001"
DATA_DIR = "/var/lib/xinlian"
OPS_PORT = 9464
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# ------------------------------------------------------------------ Containerfile


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


CONTAINERFILE = _instructions((DEPLOY / "Containerfile").read_text(encoding="utf-8"))


def _runtime_stage() -> list[tuple[str, str]]:
    starts = [i for i, (word, _) in enumerate(CONTAINERFILE) if word == "FROM"]
    return CONTAINERFILE[starts[-1] :]


def _index(stage: list[tuple[str, str]], word: str, pattern: str = "") -> int:
    found = [i for i, (w, args) in enumerate(stage) if w == word and re.search(pattern, args)]
    assert found, (word, pattern)
    return found[0]


def test_image_is_multi_stage_and_copies_every_package() -> None:
    assert sum(word == "FROM" for word, _ in CONTAINERFILE) >= 2
    copied = {args.split()[0] for word, args in CONTAINERFILE if word == "COPY"}
    for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied, f"package {pattern} not copied into the image"


def test_image_installs_only_locked_hashed_dependencies() -> None:
    runs = [args for word, args in CONTAINERFILE if word == "RUN" and "pip install" in args]
    for args in runs:
        for command in args.split("&&"):
            if "pip install" not in command:
                continue
            # every install is either the hashed lock or a local wheel without resolving
            assert "--require-hashes" in command or (
                "--no-deps" in command and ".whl" in command
            ), command
    locks = " ".join(runs)
    assert "requirements.lock" in locks and "build-requirements.lock" in locks


def test_image_runs_as_non_root_with_its_data_directory_before_the_volume() -> None:
    stage = _runtime_stage()
    user = _index(stage, "USER")
    volume = _index(stage, "VOLUME", re.escape(DATA_DIR))
    made = _index(stage, "RUN", rf"install -d -o {UID} -g {UID} .*{re.escape(DATA_DIR)}")
    assert stage[user][1].split(":")[0] == UID
    assert made < volume, "the data directory must exist, owned by the user, before VOLUME"
    assert user < volume
    assert re.search(rf"useradd .*--uid {UID}", stage[made][1])


def test_image_has_a_healthcheck_on_the_ops_port() -> None:
    stage = _runtime_stage()
    check = stage[_index(stage, "HEALTHCHECK")][1]
    assert f"127.0.0.1:{OPS_PORT}/healthz" in check
    assert "curl" not in check  # none in the slim image


def test_image_runs_gateway_serve() -> None:
    stage = _runtime_stage()
    entry = json.loads(stage[_index(stage, "ENTRYPOINT")][1])
    cmd = json.loads(stage[_index(stage, "CMD")][1])
    assert entry == ["xinlian"]
    assert cmd[:2] == ["gateway", "serve"]
    check_argv(cmd)
    assert f"--home {DATA_DIR}" in " ".join(cmd)


# ------------------------------------------------------------------ locks


def _lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name → (version, hashes) of a pip-compile --generate-hashes file."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        found = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", line)
        assert found, f"{path.name}: not an exact pin: {line[:80]}"
        pins[canonicalize_name(found.group(1))] = (
            found.group(2),
            re.findall(r"--hash=sha256:([0-9a-f]{64})", line),
        )
    return pins


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("requirements.lock", PYPROJECT["project"]["dependencies"]),
        ("build-requirements.lock", PYPROJECT["build-system"]["requires"]),
    ],
)
def test_lock_pins_every_dependency_with_hashes(lock: str, requirements: list[str]) -> None:
    pins = _lock(DEPLOY / lock)
    for pin, (_version, hashes) in pins.items():
        assert hashes, f"{lock}: {pin} has no hash"
    for spec in requirements:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} lacks {name}: run deploy/lock.sh"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, pyproject.toml asks {requirement.specifier}: "
            "run deploy/lock.sh"
        )


def test_lock_check_catches_a_missing_pin(tmp_path: Path) -> None:
    text = (DEPLOY / "requirements.lock").read_text(encoding="utf-8")
    cut = re.sub(r"(?ms)^alembic==.*?(?=^\S)", "", text)
    (tmp_path / "requirements.lock").write_text(cut, encoding="utf-8")
    assert "alembic" not in _lock(tmp_path / "requirements.lock")


# ------------------------------------------------------------------ compose


COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]


def test_compose_has_postgres_migrate_two_gateways_and_a_load_balancer() -> None:
    assert set(SERVICES) == {"postgres", "migrate", "gateway", "lb"}
    assert SERVICES["gateway"]["deploy"]["replicas"] == 2
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    assert SERVICES["lb"]["image"].startswith("haproxy:")


def test_compose_migrates_once_before_the_gateways_start() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"][:2] == ["gateway", "migrate"]
    check_argv(migrate["command"])
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    gateway = SERVICES["gateway"]["depends_on"]
    assert gateway["migrate"]["condition"] == "service_completed_successfully"
    assert gateway["postgres"]["condition"] == "service_healthy"
    assert SERVICES["lb"]["depends_on"]["gateway"]["condition"] == "service_healthy"


def test_compose_restarts_and_health_checks_long_running_services() -> None:
    for name in ("postgres", "gateway", "lb"):
        assert SERVICES[name]["restart"] == "unless-stopped", name
    for name in ("postgres", "gateway"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert f"127.0.0.1:{OPS_PORT}/readyz" in " ".join(SERVICES["gateway"]["healthcheck"]["test"])


def test_compose_gateways_are_locked_down_and_keep_the_password_out() -> None:
    for name in ("migrate", "gateway"):
        service = SERVICES[name]
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert ":" not in service["environment"]["XINLIAN_DB_URL"].split("@")[0].split("//")[1]
        assert service["environment"]["PGPASSFILE"].startswith("/run/secrets/")
        assert "ports" not in service  # reached through the load balancer only
    assert set(COMPOSE["secrets"]) >= {"pg_password", "pgpass"}


# ------------------------------------------------------------------ load balancer


HAPROXY = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")


def test_load_balancer_passes_tls_through() -> None:
    assert re.search(r"(?m)^\s*mode tcp$", HAPROXY)
    assert not re.search(r"(?m)^\s*mode http$", HAPROXY)
    assert "ssl" not in re.findall(r"(?m)^\s*bind .*$", HAPROXY)[0]
    binds = re.findall(r"(?m)^\s*bind :(\d+)$", HAPROXY)
    published = [p.split(":")[1] for p in SERVICES["lb"]["ports"]]
    assert sorted(binds) == sorted(published) == ["7443", "7444"]
    assert f"check port {OPS_PORT}" in HAPROXY and "GET /readyz" in HAPROXY
    mount = SERVICES["lb"]["volumes"][0]
    assert mount.startswith("./haproxy.cfg:")


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_accepts_the_config() -> None:
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_healthcheck_programs_compile() -> None:
    # the image's HEALTHCHECK and compose's are exec form: python -c with one program
    test = SERVICES["gateway"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    compile(test[3], "<healthcheck>", "exec")
    stage = _runtime_stage()
    check = stage[_index(stage, "HEALTHCHECK")][1]
    program = json.loads(check[check.index("CMD") + 3 :].strip())
    assert program[:2] == ["python", "-c"]
    compile(program[2], "<HEALTHCHECK>", "exec")
