"""Risk signals (风险信号): rules as data mark change log events a lender must not miss.

The rules are ``authz/data/risk_rules.json``: each names a category, the event kinds it
applies to, a severity and conditions on the record's raw fields, all of which must
hold (a field equal to one of ``in``; a field read as a number ``above`` a threshold).
An event carries every rule that marked it, with the rule's id, severity and label;
never a field value. Pure, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any

SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Condition:
    field: str
    values: frozenset[str] = frozenset()
    above: Decimal | None = None

    def holds(self, fields: Mapping[str, str]) -> bool:
        value = fields.get(self.field)
        if value is None:
            return False
        if self.above is not None:
            try:
                return Decimal(value.replace(",", "")) > self.above
            except InvalidOperation:
                return False
        return value.strip() in self.values


@dataclass(frozen=True)
class Signal:
    rule: str
    severity: str
    label_zh: str


@dataclass(frozen=True)
class Rule:
    signal: Signal
    category: str
    kinds: frozenset[str]
    when: tuple[Condition, ...]

    def marks(self, category: str, kind: str, fields: Mapping[str, str]) -> bool:
        return (
            category == self.category
            and kind in self.kinds
            and all(c.holds(fields) for c in self.when)
        )


@dataclass(frozen=True)
class RiskRules:
    rules: tuple[Rule, ...]

    def signals(self, category: str, kind: str, fields: Mapping[str, str]) -> tuple[Signal, ...]:
        """The signals of one event (its raw fields), in rule order."""
        return tuple(r.signal for r in self.rules if r.marks(category, kind, fields))


def parse_rules(data: Mapping[str, Any]) -> RiskRules:
    """Rules from their JSON form; a malformed rule is a ValueError naming it."""
    rules: list[Rule] = []
    for raw in data["rules"]:
        severity = raw["severity"]
        if severity not in SEVERITIES:
            raise ValueError(f"risk rule {raw['id']}: severity {severity!r} not in {SEVERITIES}")
        when: list[Condition] = []
        for cond in raw.get("when", []):
            above = cond.get("above")
            when.append(
                Condition(
                    field=cond["field"],
                    values=frozenset(cond.get("in", [])),
                    above=None if above is None else Decimal(str(above)),
                )
            )
        rules.append(
            Rule(
                signal=Signal(raw["id"], severity, raw["label_zh"]),
                category=raw["category"],
                kinds=frozenset(raw["kinds"]),
                when=tuple(when),
            )
        )
    return RiskRules(tuple(rules))


@cache
def load_default_rules() -> RiskRules:
    text = resources.files("authz.data").joinpath("risk_rules.json").read_text(encoding="utf-8")
    return parse_rules(json.loads(text))


def rule_ids(rules: RiskRules) -> Sequence[str]:
    return [r.signal.rule for r in rules.rules]


__all__ = ["RiskRules", "Rule", "Signal", "load_default_rules", "parse_rules", "rule_ids"]
