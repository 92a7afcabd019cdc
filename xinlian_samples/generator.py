"""Deterministic synthetic enterprises and credit records, for tests, demos and benchmarks.

Everything here is made up but shaped like the real thing: enterprise names built from a
city, a trade name (字号) and an industry word; credit codes that pass GB 32100 (with a
GB 11714 organization code inside); ID numbers with a valid ISO 7064 MOD 11-2 check digit;
real GB/T 2260 division codes and GB/T 4754-2017 industry sections.

Records carry every field value as a string in its wire form (:mod:`xinlian_samples.fields`).

Generation works for any :class:`~authz.catalog.Category`: fields of the default catalog
get values made for them, other fields get values chosen from their type and name. The
same arguments always give the same output (``random.Random`` seeded with a string).

The parts: the reference tables (:mod:`~xinlian_samples.tables`, data in
``xinlian_samples/data/``), enterprises (:mod:`~xinlian_samples.enterprises`), the field
makers (:mod:`~xinlian_samples.fields` and the two catalog modules beside it); here, the
records and the files they are written to.
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from authz.catalog import Category, FieldSpec
from xinlian_samples import fields_operations, fields_registers
from xinlian_samples.enterprises import Enterprise, generate_enterprises, id_check_digit
from xinlian_samples.fields import END, Ctx, Gen, fallback, rfc3339
from xinlian_samples.fields_operations import STATUS_FIRST
from xinlian_samples.tables import DIVISIONS, INDUSTRY_SECTIONS, Division

__all__ = [
    "DIVISIONS",
    "END",
    "INDUSTRY_SECTIONS",
    "Division",
    "Enterprise",
    "SampleRecord",
    "generate_enterprises",
    "generate_records",
    "id_check_digit",
    "read_jsonl",
    "write_csv",
    "write_jsonl",
]

_KNOWN = {**fields_registers.KNOWN, **fields_operations.KNOWN}
"""(category id or "" for any category, field name) -> (field type, maker)"""


@dataclass(frozen=True, slots=True)
class SampleRecord:
    credit_code: str
    category: str
    record_id: str
    version: int
    event_time: datetime  # timezone-aware, UTC
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def event_time_rfc3339(self) -> str:
        return rfc3339(self.event_time)

    def to_json(self) -> dict[str, Any]:
        return {
            "credit_code": self.credit_code,
            "category": self.category,
            "record_id": self.record_id,
            "version": self.version,
            "event_time": self.event_time_rfc3339,
            "fields": self.fields,
        }


def _plan(category: Category) -> list[tuple[FieldSpec, Gen, Gen | None, bool]]:
    """For each field: its generator, the fallback when a known generator yields nothing
    for a required field, and whether an optional value may be left out at random."""
    plan: list[tuple[FieldSpec, Gen, Gen | None, bool]] = []
    for spec in category.fields:
        known = _KNOWN.get((category.id, spec.name)) or _KNOWN.get(("", spec.name))
        if known is not None and known[0] is spec.type:
            # A known generator leaves a value out itself when it does not apply.
            plan.append((spec, known[1], fallback(spec) if spec.required else None, False))
        else:
            plan.append((spec, fallback(spec), None, not spec.required))
    return plan


# ---- event times -----------------------------------------------------------------------

_STEP_DAYS = {
    "realtime": 90,
    "daily": 45,
    "weekly": 60,
    "monthly": 30,
    "quarterly": 91,
    "yearly": 365,
    "annual": 365,
}


def _event_times(rng: random.Random, established: date, frequency: str, n: int) -> list[datetime]:
    """``n`` increasing instants after ``established`` and before :data:`END`."""
    start = datetime(established.year, established.month, established.day, tzinfo=UTC)
    start = max(start + timedelta(days=1), END - timedelta(days=365 * 12))
    end_month = END.year * 12 + END.month - 1
    if frequency == "monthly":
        first_month = start.year * 12 + start.month  # the month after the start's month
        if end_month - first_month + 1 >= n:
            out = []
            for i in range(n):
                m = end_month - (n - 1 - i)
                day = rng.randint(1, 15)
                out.append(
                    datetime(
                        m // 12, m % 12 + 1, day, rng.randint(1, 22), rng.randrange(60), tzinfo=UTC
                    )
                )
            return out
    if frequency in ("yearly", "annual") and END.year - start.year >= n:
        return [
            datetime(END.year - (n - 1 - i), rng.randint(3, 5), rng.randint(1, 28), 10, tzinfo=UTC)
            for i in range(n)
        ]
    span = int((END - start).total_seconds())
    step = min(_STEP_DAYS.get(frequency, 30) * 86_400, span // max(n, 1))
    base = int((END - start).total_seconds()) - step * n
    out = []
    for i in range(n):
        offset = base + step * i + (rng.randrange(step) if step > 1 else 0)
        out.append(start + timedelta(seconds=offset))
    return out


def generate_records(
    enterprise: Enterprise, category: Category, n: int, seed: int, version: int = 1
) -> list[SampleRecord]:
    """``n`` records of ``category`` about ``enterprise``, oldest first.

    Record ``k`` has id ``f"{category.id}-{credit_code}-{k}"``; another ``version`` of the
    same arguments gives the same ids and event times with freshly drawn values (a
    correction). Every required field is present, most optional ones too.
    """
    code = enterprise.credit_code
    times = _event_times(
        random.Random(f"xinlian-times:{seed}:{category.id}:{code}"),
        enterprise.established,
        category.update_frequency,
        n,
    )
    rng = random.Random(f"xinlian-records:{seed}:{category.id}:{code}:{version}")
    ctx = Ctx(enterprise, rng)
    plan = _plan(category)
    primers = [prime for name, prime in STATUS_FIRST.items() if category.field(name) is not None]
    random_drop = rng.random
    out: list[SampleRecord] = []
    append = out.append
    cat_id = category.id
    for k, when in enumerate(times):
        ctx.event = when
        ctx.day = when.date()
        ctx.scratch = {}
        for prime in primers:  # decide the status before the amounts that depend on it
            prime(ctx)
        values: dict[str, str] = {}
        for spec, gen, backup, droppable in plan:
            if droppable and random_drop() < 0.12:
                continue
            value = gen(ctx)
            if value is None and backup is not None:
                value = backup(ctx)
            if value is not None:
                values[spec.name] = value
        append(SampleRecord(code, cat_id, f"{cat_id}-{code}-{k}", version, when, values))
    return out


# ---- files -------------------------------------------------------------------------------


def write_jsonl(records: Iterable[SampleRecord], path: str | os.PathLike[str]) -> int:
    """Write one JSON object per line (UTF-8); return the number of records written."""
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="\n") as fh:
        for record in records:
            fh.write(json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":")))
            fh.write("\n")
            count += 1
    return count


def read_jsonl(path: str | os.PathLike[str]) -> list[SampleRecord]:
    """Read records written by :func:`write_jsonl`."""
    out: list[SampleRecord] = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            raw = json.loads(line)
            out.append(
                SampleRecord(
                    credit_code=str(raw["credit_code"]),
                    category=str(raw["category"]),
                    record_id=str(raw["record_id"]),
                    version=int(raw["version"]),
                    event_time=datetime.strptime(raw["event_time"], "%Y-%m-%dT%H:%M:%SZ").replace(
                        tzinfo=UTC
                    ),
                    fields={str(k): str(v) for k, v in raw["fields"].items()},
                )
            )
    return out


def write_csv(
    records: Iterable[SampleRecord], category: Category, path: str | os.PathLike[str]
) -> int:
    """Write a CSV with columns credit_code, record_id, version, event_time, then the
    category's field names (empty where a record has no value); return the row count."""
    names = category.field_names
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("credit_code", "record_id", "version", "event_time", *names))
        for record in records:
            fields = record.fields
            writer.writerow(
                (
                    record.credit_code,
                    record.record_id,
                    record.version,
                    rfc3339(record.event_time),
                    *(fields.get(name, "") for name in names),
                )
            )
            count += 1
    return count
