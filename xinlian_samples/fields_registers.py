"""Makers of the default catalog's fields that authorities register about an enterprise:
registration, licences, penalties, court cases, dishonesty lists, honours."""

from __future__ import annotations

from datetime import timedelta

from xinlian_samples.fields import (
    TYPES,
    Ctx,
    KnownFields,
    authority,
    cents,
    court,
    days,
    doc_no,
    fmt_cents,
    gov_code,
    money,
    not_before,
    weighted,
    years_later,
)
from xinlian_samples.tables import (
    CASE_TYPES,
    HONORS,
    INDUSTRIES,
    LICENSES,
    LISTS,
    MEASURES,
    VIOLATIONS,
)

# ---- registration ----------------------------------------------------------------------


def _g_business_term_end(ctx: Ctx) -> str | None:
    end = years_later(ctx.ent.established, ctx.rng.choice((20, 30, 50)))
    if end <= ctx.day or ctx.rng.random() < 0.45:
        return None  # 长期 (no fixed term)
    return end.isoformat()


def _g_approval_date(ctx: Ctx) -> str:
    span = max(0, (ctx.day - ctx.ent.established).days)
    return days(ctx.ent.established, ctx.rng.randint(0, span)).isoformat()


def _g_reg_status(ctx: Ctx) -> str:
    return weighted(ctx.rng, (("存续", 92), ("吊销", 3), ("注销", 4), ("迁出", 1)))


# ---- licensing and penalties -----------------------------------------------------------


def _license(ctx: Ctx) -> tuple[str, str]:
    return ctx.memo("license", lambda: ctx.rng.choice(LICENSES))


def _g_license_no(ctx: Ctx) -> str:
    return f"{_license(ctx)[1]}{ctx.ent.division}{ctx.rng.randrange(10**8):08d}"


def _violation(ctx: Ctx) -> tuple[str, str, str]:
    return ctx.memo("violation", lambda: ctx.rng.choice(VIOLATIONS))


def _penalty_type(ctx: Ctx) -> str:
    return ctx.pick(
        "penalty_type", (("警告", 15), ("罚款", 50), ("警告;罚款", 20), ("罚款;没收违法所得", 15))
    )


def _fine(ctx: Ctx) -> str | None:
    if "罚款" not in _penalty_type(ctx):
        return None
    return ctx.memo(
        "fine",
        lambda: f"{ctx.rng.choice((0.2, 0.5, 1, 2, 3, 5, 8, 10, 20, 50)):.2f}",
    )


_LONGER_PUBLICITY = ("特种设备", "安全生产", "消防")  # at least a year (catalog publicity)


def _penalty_domain(ctx: Ctx) -> str:
    return ctx.pick(
        "penalty_domain", (("市场监管", 85), ("特种设备", 5), ("安全生产", 5), ("消防", 5))
    )


def _g_publicity_until(ctx: Ctx) -> str:
    longer = _penalty_domain(ctx) in _LONGER_PUBLICITY
    return days(ctx.day, ctx.rng.choice((365, 1095) if longer else (90, 365, 1095))).isoformat()


def _g_penalty_content(ctx: Ctx) -> str:
    parts = []
    if "警告" in _penalty_type(ctx):
        parts.append("给予警告")
    fine = _fine(ctx)
    if fine is not None:
        parts.append(f"罚款人民币{fine}万元")
    if "没收" in _penalty_type(ctx):
        parts.append("没收违法所得")
    return "，".join(parts) + "。"


def _g_confiscated(ctx: Ctx) -> str | None:
    if "没收" not in _penalty_type(ctx):
        return None
    return money(ctx.rng, 0.05, 5)


# ---- judicial and dishonesty lists -------------------------------------------------------


def _case_type(ctx: Ctx) -> tuple[str, int, str]:
    return ctx.memo("case_type", lambda: ctx.rng.choices(CASE_TYPES, [c[1] for c in CASE_TYPES])[0])


def _g_case_no(ctx: Ctx) -> str:
    year = (ctx.day - timedelta(days=_filing_lag(ctx))).year
    court_code = ctx.div.abbr + ctx.ent.division[2:]
    return f"({year}){court_code}{_case_type(ctx)[2]}{ctx.rng.randint(1, 9999)}号"


def _filing_lag(ctx: Ctx) -> int:
    return ctx.memo("filing_lag", lambda: ctx.rng.randint(20, 300))


def _target(ctx: Ctx) -> str:
    return ctx.memo("target", lambda: money(ctx.rng, 10_000, 5_000_000))


def _performance(ctx: Ctx) -> str:
    return ctx.pick("performance", (("全部未履行", 50), ("部分未履行", 35), ("全部履行", 15)))


def _g_unperformed(ctx: Ctx) -> str:
    target = cents(_target(ctx))
    status = _performance(ctx)
    if status == "全部履行":
        return "0.00"
    if status == "全部未履行":
        return fmt_cents(target)
    return fmt_cents(int(target * ctx.rng.uniform(0.1, 0.9)))


def _listing(ctx: Ctx) -> tuple[str, str, str, str]:
    return ctx.memo("listing", lambda: ctx.rng.choice(LISTS))


def _g_listing_authority(ctx: Ctx) -> str:
    kind = _listing(ctx)[3]
    city = ctx.div.city
    if kind == "tax":
        return f"国家税务总局{city}税务局稽查局"
    if kind == "court":
        return court(ctx)
    if kind == "hr":
        return f"{city}人力资源和社会保障局"
    if kind == "safety":
        return f"{city}应急管理局"
    return f"{city}市场监督管理局"


def _list_status(ctx: Ctx) -> str:
    return ctx.pick("list_status", (("在列", 70), ("已移出", 15), ("已信用修复", 15)))


def _g_listing_date(ctx: Ctx) -> str:
    if _list_status(ctx) == "在列":
        return ctx.day.isoformat()
    lag: int = ctx.memo("list_lag", lambda: ctx.rng.randint(365, 1095))
    return not_before(days(ctx.day, -lag), ctx.ent.established).isoformat()


def _g_removal_date(ctx: Ctx) -> str | None:
    return None if _list_status(ctx) == "在列" else ctx.day.isoformat()


def _g_repair_date(ctx: Ctx) -> str | None:
    return ctx.day.isoformat() if _list_status(ctx) == "已信用修复" else None


# ---- honors ----------------------------------------------------------------------------


def _honor(ctx: Ctx) -> tuple[str, str, str, str, int]:
    return ctx.memo("honor", lambda: ctx.rng.choice(HONORS))


def _g_honor_valid_until(ctx: Ctx) -> str | None:
    years = _honor(ctx)[4]
    return None if years == 0 else years_later(ctx.day, years).isoformat()


KNOWN = KnownFields()
"""The makers of this module's fields."""
_known = KNOWN.add
_S, _I, _D, _DA, _B = TYPES


# registration
_known("enterprise_name", _S, lambda c: c.ent.name)
_known("enterprise_type", _S, lambda c: c.ent.enterprise_type)
_known("legal_representative", _S, lambda c: c.ent.legal_representative)
_known("legal_rep_id_number", _S, lambda c: c.ent.legal_rep_id_number)
_known("registered_capital", _D, lambda c: f"{c.ent.registered_capital:.2f}")
_known("establishment_date", _DA, lambda c: c.ent.established.isoformat())
_known("business_term_end", _DA, _g_business_term_end)
_known("business_scope", _S, lambda c: INDUSTRIES.get(c.ent.industry, INDUSTRIES["F"]).scope)
_known("industry_code", _S, lambda c: c.ent.industry_code)
_known("address", _S, lambda c: c.ent.address)
_known("registration_authority", _S, authority)
_known("approval_date", _DA, _g_approval_date)
_known("status", _S, _g_reg_status, category="registration")
_known("contact_mobile", _S, lambda c: c.ent.contact_mobile)
_known("basic_account_no", _S, lambda c: c.ent.basic_account_no)
# admin_license
_known("license_document_no", _S, lambda c: doc_no(c, "市监许"))
_known("license_name", _S, lambda c: _license(c)[0])
_known("license_no", _S, _g_license_no)
_known(
    "license_category",
    _S,
    lambda c: weighted(c.rng, (("普通", 70), ("特许", 5), ("认可", 5), ("核准", 10), ("登记", 10))),
)
_known("license_content", _S, lambda c: f"准予核发《{_license(c)[0]}》")
_known("valid_from", _DA, lambda c: c.day.isoformat())
_known("valid_until", _DA, lambda c: years_later(c.day, c.rng.choice((3, 5))).isoformat())
_known("licensing_authority", _S, authority)
_known("licensing_authority_code", _S, gov_code)
# admin_penalty
_known("penalty_document_no", _S, lambda c: doc_no(c, "市监处罚"))
_known("violation_type", _S, lambda c: _violation(c)[0])
_known("violation_facts", _S, lambda c: f"经查，当事人{_violation(c)[2]}。")
_known("penalty_basis", _S, lambda c: _violation(c)[1])
_known("penalty_type", _S, _penalty_type)
_known("penalty_content", _S, _g_penalty_content)
_known("fine_amount", _D, _fine)
_known("confiscated_amount", _D, _g_confiscated)
_known("decision_date", _DA, lambda c: c.day.isoformat())
_known("penalty_domain", _S, _penalty_domain)
_known("publicity_until", _DA, _g_publicity_until)
_known("penalty_authority", _S, authority)
# judicial
_known("case_no", _S, _g_case_no)
_known("court_name", _S, court)
_known("case_type", _S, lambda c: _case_type(c)[0])
_known(
    "case_cause",
    _S,
    lambda c: c.rng.choice(
        (
            "买卖合同纠纷",
            "金融借款合同纠纷",
            "劳动争议",
            "建设工程施工合同纠纷",
            "租赁合同纠纷",
            "承揽合同纠纷",
        )
    ),
)
_known("filing_date", _DA, lambda c: days(c.day, -_filing_lag(c)).isoformat())
_known("judgment_date", _DA, lambda c: c.day.isoformat())
_known("execution_target_amount", _D, _target)
_known("unperformed_amount", _D, _g_unperformed)
_known("performance_status", _S, _performance)
_known(
    "dishonest_debtor",
    _B,
    lambda c: "true" if _performance(c) != "全部履行" and c.rng.random() < 0.3 else "false",
)
_known(
    "consumption_restricted",
    _B,
    lambda c: "true" if _performance(c) != "全部履行" and c.rng.random() < 0.4 else "false",
)
# serious_dishonesty
_known("list_type", _S, lambda c: _listing(c)[0])
_known("listing_reason", _S, lambda c: _listing(c)[1])
_known("listing_basis", _S, lambda c: _listing(c)[2])
_known("listing_authority", _S, _g_listing_authority)
_known("listing_date", _DA, _g_listing_date)
_known("removal_date", _DA, _g_removal_date)
_known("punishment_measures", _S, lambda c: c.rng.choice(MEASURES))
_known("credit_repair_date", _DA, _g_repair_date)
_known("status", _S, _list_status, category="serious_dishonesty")
# honors
_known("honor_name", _S, lambda c: _honor(c)[0])
_known("honor_category", _S, lambda c: _honor(c)[1])
_known("honor_level", _S, lambda c: _honor(c)[2])
_known(
    "awarding_authority",
    _S,
    lambda c: _honor(c)[3].format(province=c.div.province, city=c.div.city),
)
_known("award_date", _DA, lambda c: c.day.isoformat())
_known("document_no", _S, lambda c: doc_no(c, "政"))
_known("valid_until", _DA, _g_honor_valid_until, category="honors")
