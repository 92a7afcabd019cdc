"""Makers of the default catalog's fields about an enterprise's operations: tax, social
insurance, housing fund, utilities, real estate, customs, intellectual property, research
and development."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from xinlian_samples.fields import (
    TYPES,
    Ctx,
    KnownFields,
    days,
    fmt_cents,
    money,
    month_start,
    not_before,
    scale,
    weighted,
    years_later,
)
from xinlian_samples.tables import BANKS, IP_OBJECTS, IP_PARTS, IP_TYPES, ROADS


def _monthly_revenue(ctx: Ctx) -> int:
    def make() -> int:
        per_head = ctx.stable("revenue_per_head", lambda r: r.uniform(10_000, 50_000))
        return int(scale(ctx) * per_head * ctx.rng.uniform(0.7, 1.3) * 100)

    return ctx.memo("revenue_cents", make)


# ---- tax -------------------------------------------------------------------------------


def _g_taxpayer_type(ctx: Ctx) -> str:
    return "一般纳税人" if ctx.ent.registered_capital >= 100 else "小规模纳税人"


def _g_tax_rating(ctx: Ctx) -> str:
    return ctx.stable(
        "tax_rating",
        lambda r: weighted(r, (("A", 20), ("B", 50), ("M", 20), ("C", 7), ("D", 3))),
    )


def _vat(ctx: Ctx) -> int:
    def make() -> int:
        rate = 0.01 if _g_taxpayer_type(ctx) == "小规模纳税人" else ctx.rng.uniform(0.02, 0.06)
        return int(_monthly_revenue(ctx) * rate)

    return ctx.memo("vat", make)


def _income_tax(ctx: Ctx) -> int:
    return ctx.memo("income_tax", lambda: int(_monthly_revenue(ctx) * ctx.rng.uniform(0.0, 0.025)))


def _g_total_tax(ctx: Ctx) -> str:
    surcharges = _vat(ctx) * 12 // 100
    return fmt_cents(_vat(ctx) + _income_tax(ctx) + surcharges)


def _arrears_or_zero(ctx: Ctx, p: float, low: float, high: float) -> str:
    return money(ctx.rng, low, high) if ctx.rng.random() < p else "0.00"


# ---- social insurance and housing fund -----------------------------------------------


def _headcount(ctx: Ctx) -> int:
    return ctx.memo(
        "headcount", lambda: max(1, round(ctx.ent.employees * ctx.rng.uniform(0.85, 1.05)))
    )


def _wage_base_cents(ctx: Ctx) -> int:
    per_head = ctx.stable("wage", lambda r: r.uniform(4_000, 12_000))
    return ctx.memo("wage_base", lambda: int(_headcount(ctx) * per_head * 100))


def _si_status(ctx: Ctx) -> str:
    return ctx.pick("si_status", (("正常缴费", 93), ("欠费未缴", 5), ("暂停缴费", 2)))


def _si_arrears_months(ctx: Ctx) -> int:
    return ctx.memo(
        "si_arrears", lambda: ctx.rng.randint(1, 6) if _si_status(ctx) == "欠费未缴" else 0
    )


def _si_monthly(ctx: Ctx) -> int:
    return ctx.memo("si_monthly", lambda: int(_wage_base_cents(ctx) * ctx.rng.uniform(0.30, 0.40)))


def _hf_ratio(ctx: Ctx) -> int:
    return ctx.stable("hf_ratio", lambda r: r.choice((5, 6, 7, 8, 10, 12)))


def _hf_status(ctx: Ctx) -> str:
    return ctx.pick("hf_status", (("正常缴存", 96), ("单位封存", 3), ("单位销户", 1)))


def _hf_monthly(ctx: Ctx) -> int:
    return _wage_base_cents(ctx) * _hf_ratio(ctx) * 2 // 100


def _hf_arrears_months(ctx: Ctx) -> int:
    return ctx.memo("hf_arrears", lambda: ctx.rng.choices((0, 1, 2, 3), (92, 4, 2, 2))[0])


# ---- utilities -------------------------------------------------------------------------


def _kwh(ctx: Ctx) -> int:
    heavy = ctx.ent.industry in "BCD"
    per_head = ctx.stable("kwh", lambda r: r.uniform(800, 4000) if heavy else r.uniform(80, 600))
    return ctx.memo("kwh", lambda: int(scale(ctx) * per_head * ctx.rng.uniform(0.8, 1.2)))


def _water(ctx: Ctx) -> int:
    return ctx.memo("water", lambda: int(scale(ctx) * ctx.rng.uniform(1, 6)) + 1)


def _gas(ctx: Ctx) -> int:
    uses = ctx.stable("uses_gas", lambda r: r.random() < 0.5 or ctx.ent.industry in "CH")
    return ctx.memo("gas", lambda: int(scale(ctx) * ctx.rng.uniform(2, 30)) if uses else 0)


# ---- real estate ---------------------------------------------------------------------


def _mortgage(ctx: Ctx) -> str:
    return ctx.pick("mortgage", (("无抵押", 55), ("已抵押", 40), ("已查封", 5)))


def _g_certificate_no(ctx: Ctx) -> str:
    serial = ctx.rng.randrange(10**7)
    return f"{ctx.div.abbr}({ctx.day.year}){ctx.div.city[:-1]}不动产权第{serial:07d}号"


def _g_location(ctx: Ctx) -> str:
    rng = ctx.rng
    return f"{ctx.div.local}{rng.choice(ROADS)}{rng.randint(1, 499)}号{rng.randint(1, 12)}#楼"


# ---- customs ----------------------------------------------------------------------------


def _g_customs_code(ctx: Ctx) -> str:
    return ctx.stable(
        "customs_code",
        lambda r: (
            f"{ctx.ent.division[:4]}{r.choice('1234569')}{r.choice('1234')}{r.randrange(10**4):04d}"
        ),
    )


def _trades(ctx: Ctx) -> bool:
    return ctx.stable("trades", lambda r: r.random() < 0.6 or ctx.ent.industry in "CF")


# ---- intellectual property ------------------------------------------------------------


def _ip_type(ctx: Ctx) -> tuple[str, int, str, int]:
    return ctx.memo("ip_type", lambda: ctx.rng.choices(IP_TYPES, [t[1] for t in IP_TYPES])[0])


def _ip_lag(ctx: Ctx) -> int:
    return ctx.memo("ip_lag", lambda: ctx.rng.randint(150, 900))


def _ip_application(ctx: Ctx) -> date:
    return not_before(days(ctx.day, -_ip_lag(ctx)), ctx.ent.established)


def _patent_check(digits12: str) -> str:
    total = sum(
        int(d) * w for d, w in zip(digits12, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), strict=True)
    )
    check = total % 11
    return "X" if check == 10 else str(check)


def _g_registration_no(ctx: Ctx) -> str:
    kind = _ip_type(ctx)
    if not kind[2]:
        return str(ctx.rng.randint(10_000_000, 79_999_999))
    digits = f"{_ip_application(ctx).year}{kind[2]}{ctx.rng.randrange(10**7):07d}"
    return f"ZL{digits}.{_patent_check(digits)}"


def _g_ip_name(ctx: Ctx) -> str:
    kind = _ip_type(ctx)[0]
    if kind == "注册商标":
        return ctx.ent.trade_name
    thing = ctx.rng.choice(IP_OBJECTS)
    if kind == "外观设计":
        return f"{thing}（{ctx.rng.choice(('一', '二', '三'))}）"
    return f"一种{thing}的{ctx.rng.choice(IP_PARTS)}"


def _g_ip_expiry(ctx: Ctx) -> str:
    kind = _ip_type(ctx)
    start = ctx.day if kind[0] == "注册商标" else _ip_application(ctx)
    return years_later(start, kind[3]).isoformat()


def _ip_status(ctx: Ctx) -> str:
    return ctx.pick("ip_status", (("有效", 85), ("质押", 10), ("失效", 5)))


# ---- research and development ----------------------------------------------------------


def _high_tech(ctx: Ctx) -> bool:
    return ctx.stable(
        "high_tech", lambda r: r.random() < (0.5 if ctx.ent.industry in "CIM" else 0.1)
    )


def _rnd_ratio(ctx: Ctx) -> float:
    return ctx.memo(
        "rnd_ratio", lambda: ctx.rng.uniform(3, 12) if _high_tech(ctx) else ctx.rng.uniform(0, 4)
    )


def _patents(ctx: Ctx) -> int:
    return ctx.memo(
        "patents", lambda: ctx.rng.randint(5, 80) if _high_tech(ctx) else ctx.rng.randint(0, 8)
    )


def _g_cert_no(ctx: Ctx) -> str | None:
    if not _high_tech(ctx):
        return None
    return ctx.stable(
        "cert_no",
        lambda r: f"GR{r.randint(2019, 2024)}{ctx.ent.division[:2]}{r.randrange(10**6):06d}",
    )


KNOWN = KnownFields()
"""The makers of this module's fields."""
_known = KNOWN.add
_S, _I, _D, _DA, _B = TYPES


# tax
_known("tax_period", _DA, lambda c: month_start(c.day).isoformat())
_known("taxpayer_type", _S, _g_taxpayer_type)
_known("tax_credit_rating", _S, _g_tax_rating)
_known(
    "filing_status",
    _S,
    lambda c: weighted(c.rng, (("正常申报", 92), ("逾期申报", 6), ("未申报", 2))),
)
_known("taxable_revenue", _D, lambda c: fmt_cents(_monthly_revenue(c)))
_known("vat_paid", _D, lambda c: fmt_cents(_vat(c)))
_known("income_tax_paid", _D, lambda c: fmt_cents(_income_tax(c)))
_known("total_tax_paid", _D, _g_total_tax)
_known(
    "invoice_amount", _D, lambda c: fmt_cents(int(_monthly_revenue(c) * c.rng.uniform(0.8, 1.1)))
)
# arrears_amount is shared by tax, social insurance, housing fund and utilities
_known(
    "arrears_amount",
    _D,
    lambda c: (
        fmt_cents(_si_monthly(c) * _si_arrears_months(c))
        if "si_status" in c.scratch
        else fmt_cents(_hf_monthly(c) * _hf_arrears_months(c))
        if "hf_status" in c.scratch
        else c.memo("tax_arrears", lambda: _arrears_or_zero(c, 0.08, 100, 50_000))
    ),
)
_known(
    "arrears_indicator",
    _S,
    lambda c: (
        "否"
        if c.memo("tax_arrears", lambda: _arrears_or_zero(c, 0.08, 100, 50_000)) == "0.00"
        else "是"
    ),
)
# social insurance
_known("contribution_month", _DA, lambda c: month_start(c.day).isoformat())
_known("insured_headcount", _I, lambda c: str(_headcount(c)))
_known("contribution_base_total", _D, lambda c: fmt_cents(_wage_base_cents(c)))
_known("monthly_contribution_total", _D, lambda c: fmt_cents(_si_monthly(c)))
_known("payment_status", _S, _si_status)
_known(
    "arrears_months",
    _I,
    lambda c: str(_si_arrears_months(c) if "si_status" in c.scratch else _hf_arrears_months(c)),
)
# housing fund
_known("deposit_month", _DA, lambda c: month_start(c.day).isoformat())
_known("depositor_headcount", _I, lambda c: str(_headcount(c)))
_known("monthly_deposit_total", _D, lambda c: fmt_cents(_hf_monthly(c)))
_known("deposit_ratio_percent", _I, lambda c: str(_hf_ratio(c)))
_known("account_status", _S, _hf_status)
_known(
    "fund_account_no",
    _S,
    lambda c: str(c.stable("fund_account", lambda r: r.randrange(10**11, 10**12))),
)
# utilities
_known("billing_month", _DA, lambda c: month_start(c.day).isoformat())
_known("electricity_kwh", _I, lambda c: str(_kwh(c)))
_known("electricity_fee", _D, lambda c: fmt_cents(int(_kwh(c) * c.rng.uniform(60, 95))))
_known("water_tons", _I, lambda c: str(_water(c)))
_known("water_fee", _D, lambda c: fmt_cents(int(_water(c) * c.rng.uniform(350, 520))))
_known("gas_m3", _I, lambda c: str(_gas(c)))
_known("gas_fee", _D, lambda c: fmt_cents(int(_gas(c) * c.rng.uniform(300, 450))))
_known("overdue_months", _I, lambda c: str(c.rng.choices((0, 1, 2, 3), (93, 4, 2, 1))[0]))
_known(
    "power_account_no",
    _S,
    lambda c: str(c.stable("power_account", lambda r: r.randrange(10**9, 10**10))),
)
# real estate
_known("certificate_no", _S, _g_certificate_no)
_known("location", _S, _g_location)
_known(
    "property_use",
    _S,
    lambda c: weighted(
        c.rng, (("工业", 40), ("商业", 20), ("办公", 25), ("仓储", 10), ("住宅", 5))
    ),
)
_known("land_area", _D, lambda c: money(c.rng, 200, 50_000))
_known("building_area", _D, lambda c: money(c.rng, 80, 30_000))
_known("registration_date", _DA, lambda c: c.day.isoformat())
_known("mortgage_status", _S, _mortgage)
_known(
    "mortgagee",
    _S,
    lambda c: (
        f"{c.rng.choice(BANKS)}股份有限公司{c.div.city[:-1]}分行"
        if _mortgage(c) == "已抵押"
        else None
    ),
)
_known(
    "mortgage_amount",
    _D,
    lambda c: money(c.rng, 500_000, 50_000_000) if _mortgage(c) == "已抵押" else None,
)
# import and export
_known("stat_month", _DA, lambda c: month_start(c.day).isoformat())
_known("customs_code", _S, _g_customs_code)
_known(
    "customs_credit_rating",
    _S,
    lambda c: str(
        c.stable(
            "customs_rating",
            lambda r: weighted(r, (("一般信用企业", 85), ("高级认证企业", 10), ("失信企业", 5))),
        )
    ),
)
_known("import_amount", _D, lambda c: money(c.rng, 0, scale(c) * 40_000) if _trades(c) else "0.00")
_known("export_amount", _D, lambda c: money(c.rng, 0, scale(c) * 80_000) if _trades(c) else "0.00")
_known("declarations_count", _I, lambda c: str(c.rng.randint(1, 60) if _trades(c) else 0))
_known(
    "main_trade_mode",
    _S,
    lambda c: str(
        c.stable(
            "trade_mode",
            lambda r: weighted(
                r, (("一般贸易", 70), ("加工贸易", 15), ("跨境电商", 10), ("保税物流", 5))
            ),
        )
    ),
)
# intellectual property
_known("ip_type", _S, lambda c: _ip_type(c)[0])
_known("registration_no", _S, _g_registration_no)
_known("ip_name", _S, _g_ip_name)
_known("application_date", _DA, lambda c: _ip_application(c).isoformat())
_known("grant_date", _DA, lambda c: c.day.isoformat())
_known("expiry_date", _DA, _g_ip_expiry)
_known("legal_status", _S, _ip_status)
_known("pledged", _B, lambda c: "true" if _ip_status(c) == "质押" else "false")
# research and development
_known("report_date", _DA, lambda c: date(c.day.year - 1, 12, 31).isoformat())
_known(
    "rnd_expense",
    _D,
    lambda c: fmt_cents(int(_monthly_revenue(c) * 12 * _rnd_ratio(c) / 100)),
)
_known("rnd_expense_ratio", _D, lambda c: f"{_rnd_ratio(c):.2f}")
_known("high_tech_certified", _B, lambda c: "true" if _high_tech(c) else "false")
_known("high_tech_cert_no", _S, _g_cert_no)
_known("patents_count", _I, lambda c: str(_patents(c)))
_known("invention_patents_count", _I, lambda c: str(c.rng.randint(0, _patents(c) // 3)))
_known(
    "researcher_headcount",
    _I,
    lambda c: str(max(1, int(c.ent.employees * _rnd_ratio(c) / 30))),
)
_known(
    "tech_contract_amount",
    _D,
    lambda c: money(c.rng, 0, scale(c) * 20_000) if _high_tech(c) else "0.00",
)

STATUS_FIRST: dict[str, Callable[[Ctx], str]] = {
    "payment_status": _si_status,
    "account_status": _hf_status,
}
"""Fields whose values read choices made by others must see those choices first: by field
name, the maker to run before the record's other fields."""
