"""The Chinese authorization letter (授权书)."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from string import Template

import pytest

from authz.catalog import Catalog, Purpose
from authz.grants import Grant
from authz.letter import TEMPLATE, render_letter, zh_period_end, zh_period_start
from xinlian.errors import InvalidArgument

BEIJING = timezone(timedelta(hours=8))
CODE = "91350100M000100Y5W"

CATALOG = Catalog.from_dict(
    {
        "version": "t",
        "categories": [
            {
                "id": "tax",
                "name_zh": "纳税信息",
                "name_en": "Tax",
                "department": "tax",
                "public": False,
                "update_frequency": "monthly",
                "update_deadline_days": 5,
                "fields": [
                    {"name": "amount", "name_zh": "纳税额", "type": "decimal", "sensitivity": "C1"},
                ],
            },
            {
                "id": "social_insurance",
                "name_zh": "社保信息",
                "name_en": "Social insurance",
                "department": "hrss",
                "public": False,
                "update_frequency": "monthly",
                "update_deadline_days": 5,
                "fields": [
                    {
                        "name": "insured",
                        "name_zh": "参保人数",
                        "type": "integer",
                        "sensitivity": "C1",
                    },
                    {"name": "base", "name_zh": "缴费基数", "type": "decimal", "sensitivity": "C2"},
                    {
                        "name": "arrears",
                        "name_zh": "欠缴金额",
                        "type": "decimal",
                        "sensitivity": "C2",
                    },
                ],
            },
        ],
    }
)


def make_grant(**overrides: object) -> Grant:
    values: dict[str, object] = {
        "grant_id": "g-20260105-0001",
        "credit_code": CODE,
        "grantee_node_id": "bank-fz-01",
        "categories": frozenset({"tax"}),
        "fields": frozenset({"social_insurance.base", "social_insurance.insured"}),
        "purpose": Purpose.FINANCING,
        "not_before": datetime(2026, 1, 5, tzinfo=BEIJING),
        "not_after": datetime(2027, 1, 5, tzinfo=BEIJING),
        "max_uses": 12,
        "issued_at": datetime(2026, 1, 4, 10, 30, tzinfo=BEIJING),
    }
    values.update(overrides)
    return Grant(**values)  # type: ignore[arg-type]


def render(grant: Grant | None = None, enterprise: str | None = "福州某某科技有限公司") -> str:
    return render_letter(
        grant or make_grant(),
        CATALOG,
        grantee_name="某某银行福州分行",
        enterprise_name=enterprise,
    )


def test_the_letter_states_what_is_granted() -> None:
    grant = make_grant()
    letter = render(grant)
    assert letter.startswith("企业信用信息查询授权书\n")
    assert "授权人（企业）：福州某某科技有限公司" in letter
    assert f"统一社会信用代码：{CODE}" in letter
    assert "被授权人：某某银行福州分行（节点标识：bank-fz-01）" in letter
    assert "纳税信息：全部信息项" in letter
    # field grants: in catalog order, only the granted fields
    assert "社保信息：参保人数、缴费基数" in letter
    assert "欠缴金额" not in letter
    assert "仅限于“融资”" in letter
    assert "2026年1月5日 至 2027年1月4日" in letter
    assert "最多 12 次" in letter
    assert "撤回" in letter
    assert "授权编号：g-20260105-0001" in letter
    assert "签发时间：2026年1月4日10时30分" in letter
    assert hashlib.sha256(grant.canonical_bytes()).hexdigest() in letter


def test_the_fingerprint_binds_the_letter_to_one_grant() -> None:
    first = render(make_grant())
    second = render(make_grant(max_uses=13))
    assert make_grant().fingerprint() in first
    assert make_grant().fingerprint() not in second


def test_purpose_and_unlimited_uses() -> None:
    letter = render(make_grant(purpose=Purpose.POST_LOAN, max_uses=None))
    assert "仅限于“贷后管理”" in letter
    assert "不限次数" in letter


def test_without_an_enterprise_name_the_credit_code_names_the_enterprise() -> None:
    assert f"授权人（企业）：统一社会信用代码为 {CODE} 的企业" in render(enterprise=None)


def test_times_that_are_not_midnight_are_shown_exactly() -> None:
    grant = make_grant(
        not_before=datetime(2026, 1, 5, 1, 30, tzinfo=UTC),  # 9:30 Beijing
        not_after=datetime(2026, 7, 5, 10, 0, 15, tzinfo=UTC),  # 18:00:15 Beijing
    )
    assert "2026年1月5日9时30分 至 2026年7月5日18时00分15秒" in render(grant)


def test_period_helpers() -> None:
    assert zh_period_start(datetime(2026, 1, 4, 16, tzinfo=UTC)) == "2026年1月5日"
    assert zh_period_end(datetime(2027, 1, 4, 16, tzinfo=UTC)) == "2027年1月4日"
    assert zh_period_end(datetime(2027, 1, 1, 16, tzinfo=UTC)) == "2027年1月1日"
    assert zh_period_end(datetime(2027, 1, 1, 0, tzinfo=UTC)) == "2027年1月1日8时00分"


def test_unknown_names_are_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"grant\.categories"):
        render(make_grant(categories=frozenset({"customs"})))
    with pytest.raises(InvalidArgument, match=r"grant\.fields"):
        render(make_grant(fields=frozenset({"social_insurance.ghost"})))


@pytest.mark.parametrize("name", ["", "  ", "某银行\n授权用途：任意", "a\u202eb", "x" * 101])
def test_display_names_cannot_forge_lines(name: str) -> None:
    with pytest.raises(InvalidArgument, match="grantee_name"):
        render_letter(make_grant(), CATALOG, grantee_name=name)
    with pytest.raises(InvalidArgument, match="enterprise_name"):
        render_letter(make_grant(), CATALOG, grantee_name="银行", enterprise_name=name)


def test_the_template_is_a_module_constant() -> None:
    assert isinstance(TEMPLATE, Template)
    placeholders = {"grant_id", "credit_code", "grantee_name", "scope", "purpose", "fingerprint"}
    assert all(f"${{{name}}}" in TEMPLATE.template for name in placeholders)


def test_same_grant_same_letter() -> None:
    grant = make_grant()
    assert render(grant) == render(dataclasses.replace(grant))
