"""Deterministic synthetic enterprises and credit records, for tests, demos and benchmarks.

Everything here is made up but shaped like the real thing: enterprise names built from a
city, a trade name (字号) and an industry word; credit codes that pass GB 32100 (with a
GB 11714 organization code inside); ID numbers with a valid ISO 7064 MOD 11-2 check digit;
real GB/T 2260 division codes and GB/T 4754-2017 industry sections.

Records carry every field value as a string in its wire form:

    integer   non-negative decimal digits          "42"
    decimal   digits, a point, two digits           "12345.67"
    date      ISO 8601 calendar date                "2025-09-01"
    datetime  RFC 3339 in UTC                       "2025-09-15T08:30:00Z"
    boolean   "true" or "false"

Generation works for any :class:`~authz.catalog.Category`: fields of the default catalog
get values made for them, other fields get values chosen from their type and name. The
same arguments always give the same output (``random.Random`` seeded with a string).
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from authz.catalog import Category, FieldSpec, FieldType
from authz.credit_code import CHARSET, make_code

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

END = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
"""Every generated event happens before this instant."""

_EARLIEST_ESTABLISHED = date(1993, 1, 1)
_LATEST_ESTABLISHED = date(2025, 6, 30)
_MA_CODES_FROM = date(2016, 1, 1)  # new organization codes start with "MA" since the reform


# --------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Division:
    """A county-level division of GB/T 2260."""

    code: str
    province: str  # "福建省"; for a municipality the municipality itself ("北京市")
    city: str  # prefecture-level city ("福州市"), or the municipality
    district: str  # "鼓楼区", or a county-level city ("晋江市")
    abbr: str  # one-character province abbreviation used in document numbers ("闽")

    @property
    def name(self) -> str:
        """Full name, e.g. 福建省福州市鼓楼区, 北京市朝阳区."""
        head = "" if self.province == self.city else self.province
        return head + self.city + self.district

    @property
    def local(self) -> str:
        """City and district, e.g. 福州市鼓楼区 (the start of an address)."""
        return self.city + self.district

    @property
    def name_prefix(self) -> str:
        """The place word of enterprise names: the county-level city if any, else the city."""
        return self.district[:-1] if self.district.endswith("市") else self.city[:-1]


def _divisions(province: str, abbr: str, rows: Sequence[tuple[str, str, str]]) -> list[Division]:
    return [Division(code, province, city, district, abbr) for code, city, district in rows]


DIVISIONS: tuple[Division, ...] = tuple(
    _divisions(
        "福建省",
        "闽",
        [
            ("350102", "福州市", "鼓楼区"),
            ("350103", "福州市", "台江区"),
            ("350104", "福州市", "仓山区"),
            ("350105", "福州市", "马尾区"),
            ("350111", "福州市", "晋安区"),
            ("350112", "福州市", "长乐区"),
            ("350121", "福州市", "闽侯县"),
            ("350181", "福州市", "福清市"),
            ("350203", "厦门市", "思明区"),
            ("350205", "厦门市", "海沧区"),
            ("350206", "厦门市", "湖里区"),
            ("350211", "厦门市", "集美区"),
            ("350213", "厦门市", "翔安区"),
            ("350302", "莆田市", "城厢区"),
            ("350503", "泉州市", "丰泽区"),
            ("350582", "泉州市", "晋江市"),
            ("350583", "泉州市", "南安市"),
            ("350603", "漳州市", "龙文区"),
        ],
    )
    + _divisions(
        "北京市",
        "京",
        [
            ("110101", "北京市", "东城区"),
            ("110102", "北京市", "西城区"),
            ("110105", "北京市", "朝阳区"),
            ("110106", "北京市", "丰台区"),
            ("110108", "北京市", "海淀区"),
            ("110114", "北京市", "昌平区"),
        ],
    )
    + _divisions(
        "上海市",
        "沪",
        [
            ("310101", "上海市", "黄浦区"),
            ("310104", "上海市", "徐汇区"),
            ("310112", "上海市", "闵行区"),
            ("310115", "上海市", "浦东新区"),
        ],
    )
    + _divisions(
        "广东省",
        "粤",
        [
            ("440104", "广州市", "越秀区"),
            ("440106", "广州市", "天河区"),
            ("440303", "深圳市", "罗湖区"),
            ("440304", "深圳市", "福田区"),
            ("440305", "深圳市", "南山区"),
            ("440306", "深圳市", "宝安区"),
            ("440307", "深圳市", "龙岗区"),
            ("440606", "佛山市", "顺德区"),
        ],
    )
    + _divisions(
        "浙江省",
        "浙",
        [
            ("330106", "杭州市", "西湖区"),
            ("330108", "杭州市", "滨江区"),
            ("330212", "宁波市", "鄞州区"),
            ("330782", "金华市", "义乌市"),
        ],
    )
    + _divisions(
        "江苏省",
        "苏",
        [
            ("320102", "南京市", "玄武区"),
            ("320583", "苏州市", "昆山市"),
        ],
    )
)
_DIVISION_BY_CODE = {d.code: d for d in DIVISIONS}

INDUSTRY_SECTIONS: Mapping[str, str] = {
    "A": "农、林、牧、渔业",
    "B": "采矿业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}
"""GB/T 4754-2017 sections (门类). S and T are never drawn for enterprises."""

# Section -> (weight, company name words, shop words for 个体工商户, business scope).
_INDUSTRY: Mapping[str, tuple[int, tuple[str, ...], tuple[str, ...], str]] = {
    "A": (
        3,
        ("农业科技", "生态农业", "水产养殖", "茶业"),
        ("农场", "果园"),
        "农作物种植；水产养殖；农产品初加工服务。",
    ),
    "B": (1, ("矿业", "石材"), ("石料场",), "建筑用石开采；非金属矿物制品销售。"),
    "C": (
        22,
        ("精密机械", "电子科技", "纺织", "食品", "鞋业", "新材料", "智能装备", "服饰", "包装材料"),
        ("加工厂", "五金加工部"),
        "通用设备制造（不含特种设备制造）；电子元器件制造；机械零件、零部件加工。",
    ),
    "D": (1, ("新能源", "燃气"), ("电器维修部",), "太阳能发电技术服务；燃气经营；供电业务。"),
    "E": (
        7,
        ("建设工程", "建筑装饰", "市政工程"),
        ("装修队",),
        "建设工程施工；住宅室内装饰装修；园林绿化工程施工。",
    ),
    "F": (
        20,
        ("贸易", "商贸", "供应链管理", "进出口"),
        ("便利店", "商行", "副食店"),
        "日用百货销售；五金产品批发；货物进出口；技术进出口。",
    ),
    "G": (
        5,
        ("物流", "运输", "货运代理"),
        ("货运部",),
        "道路货物运输（不含危险货物）；国内货物运输代理；普通货物仓储服务。",
    ),
    "H": (
        6,
        ("餐饮管理", "酒店管理"),
        ("小吃店", "餐馆", "茶餐厅"),
        "餐饮服务；住宿服务；食品销售。",
    ),
    "I": (
        9,
        ("信息技术", "网络科技", "软件", "数据科技"),
        ("电脑维修部",),
        "软件开发；信息系统集成服务；信息技术咨询服务；数据处理服务。",
    ),
    "J": (1, ("投资管理", "融资租赁"), ("典当行",), "以自有资金从事投资活动；融资租赁业务。"),
    "K": (3, ("房地产开发", "物业管理"), ("房产中介",), "房地产开发经营；物业管理；住房租赁。"),
    "L": (
        6,
        ("商务咨询", "企业管理咨询", "人力资源"),
        ("打印店",),
        "企业管理咨询；市场营销策划；会议及展览服务。",
    ),
    "M": (
        4,
        ("检测技术", "工程设计", "生物科技"),
        ("工作室",),
        "技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广；检验检测服务。",
    ),
    "N": (
        2,
        ("环保科技", "园林绿化"),
        ("保洁部",),
        "环境保护专用设备销售；园林绿化工程施工；水污染治理。",
    ),
    "O": (
        4,
        ("家政服务", "汽车维修"),
        ("理发店", "洗车行", "修理部"),
        "家政服务；机动车修理和维护；洗染服务。",
    ),
    "P": (
        2,
        ("教育科技", "职业培训"),
        ("培训室",),
        "教育咨询服务（不含涉许可审批的教育培训活动）；职业技能培训。",
    ),
    "Q": (
        2,
        ("健康管理", "医疗器械"),
        ("诊所", "药店"),
        "健康咨询服务（不含诊疗服务）；第二类医疗器械销售。",
    ),
    "R": (
        2,
        ("文化传媒", "体育发展"),
        ("文印社", "健身房"),
        "组织文化艺术交流活动；广告设计、代理；体育赛事策划。",
    ),
}
_SECTIONS = tuple(_INDUSTRY)
_SECTION_WEIGHTS = tuple(v[0] for v in _INDUSTRY.values())


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_TRADE_CHARS = (
    "鑫华恒宏瑞泰盛荣嘉德福兴源隆昌信达安锦正永新佳昊博创海通远景腾凯诚润卓越天元翔"
    "明辉启航中汇弘峰盈誉祥合力金宇"
)
_TRADE_WORDS = ("东方", "长城", "滨海", "南方", "星火", "科创", "华夏", "中天")
_TRADE_WORDS_FUJIAN = ("闽江", "榕城", "海峡", "八闽")

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾毛郝龚"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文斌辉鹏宇浩俊峰晨欣怡婷雪琳志鑫"
    "海波凯佳宏瑶思颖子涵梓轩博文天佑雅晴嘉慧永清春燕林丹红梅玉兰德福荣"
)
_ROADS = _words(
    "五四路 工业路 湖东路 人民路 中山路 建设路 解放路 科技路 创业路"
    " 新华路 和平路 长江路 学院路 滨海大道 金山大道 高新大道 产业园路"
)
_BANKS = _words("中国工商银行 中国农业银行 中国银行 中国建设银行 交通银行 兴业银行 招商银行")

_ENTERPRISE_TYPES = (
    ("有限责任公司（自然人投资或控股）", "有限公司", 60),
    ("有限责任公司（自然人独资）", "有限公司", 20),
    ("有限责任公司（法人独资）", "有限责任公司", 10),
    ("股份有限公司（非上市、自然人投资或控股）", "股份有限公司", 10),
)
_CAPITALS_WAN = (10, 30, 50, 100, 200, 300, 500, 1000, 2000, 5000, 10000)
_CAPITAL_WEIGHTS = (8, 8, 14, 20, 12, 10, 12, 8, 4, 3, 1)


# --------------------------------------------------------------------------------------
# Enterprises
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enterprise:
    credit_code: str
    name: str
    trade_name: str  # 字号
    division: str  # GB/T 2260 code of the registering authority
    division_name: str
    industry: str  # GB/T 4754 section letter
    industry_name: str
    registration_dept: str  # position 1 of the credit code: "9" market regulation (工商)
    org_type: str  # position 2: "1" enterprise, "2" individual business, "3" farmers' cooperative
    enterprise_type: str  # 市场主体类型 as registered
    legal_representative: str
    legal_rep_id_number: str
    contact_mobile: str
    established: date
    registered_capital: Decimal  # 万元 (10,000 CNY)
    employees: int
    address: str
    basic_account_no: str

    @property
    def division_info(self) -> Division:
        """The division's names; a code outside :data:`DIVISIONS` gets empty names."""
        found = _DIVISION_BY_CODE.get(self.division)
        return found if found is not None else Division(self.division, "", "", "", "")


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number (GB 11643)."""
    total = sum(int(ch) * pow(2, 17 - i, 11) for i, ch in enumerate(first17))
    return "10X98765432"[total % 11]


def _person_name(rng: random.Random) -> str:
    given = rng.choice(_GIVEN)
    if rng.random() < 0.7:
        given += rng.choice(_GIVEN)
    return rng.choice(_SURNAMES) + given


def _id_number(rng: random.Random, division: str, born_after: int, born_before: int) -> str:
    born = date(born_after, 1, 1) + timedelta(
        days=rng.randrange((date(born_before, 1, 1) - date(born_after, 1, 1)).days)
    )
    first17 = f"{division}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_digit(first17)


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _bank_account(rng: random.Random) -> str:
    length = rng.randint(16, 19)
    return str(rng.randrange(10 ** (length - 1), 10**length))


_ORG_BODY = CHARSET  # organization code body characters that survive in a credit code


def _org_code8(rng: random.Random, established: date) -> str:
    if established >= _MA_CODES_FROM:
        return "MA" + rng.choice("0123456789") + "".join(rng.choices(_ORG_BODY, k=5))
    return str(rng.randrange(10_000_000, 80_000_000))


def _enterprise_name(
    rng: random.Random,
    division: Division,
    org_type: str,
    words: tuple[str, ...],
    shops: tuple[str, ...],
    suffix: str,
    long: bool,
) -> tuple[str, str]:
    pool = _TRADE_WORDS + (_TRADE_WORDS_FUJIAN if division.abbr == "闽" else ())
    two = "".join(rng.sample(_TRADE_CHARS, 2))
    trade = rng.choice(pool) if rng.random() < 0.15 else two
    if long:
        trade += rng.choice(_TRADE_CHARS)
    if org_type == "2":
        return trade, f"{division.local}{trade}{rng.choice(shops)}"
    if org_type == "3":
        crop = rng.choice(("蔬菜种植", "茶叶种植", "水果种植", "生猪养殖", "食用菌"))
        return trade, f"{division.name_prefix}{trade}{crop}专业合作社"
    return trade, f"{division.name_prefix}{trade}{rng.choice(words)}{suffix}"


def generate_enterprises(n: int, seed: int) -> list[Enterprise]:
    """``n`` synthetic enterprises with valid, unique credit codes and unique names."""
    rng = random.Random(f"xinlian-enterprises:{seed}")
    codes: set[str] = set()
    names: set[str] = set()
    out: list[Enterprise] = []
    span = (_LATEST_ESTABLISHED - _EARLIEST_ESTABLISHED).days
    types = list(_ENTERPRISE_TYPES)
    type_weights = [t[2] for t in _ENTERPRISE_TYPES]
    while len(out) < n:
        division = rng.choice(DIVISIONS)
        section = rng.choices(_SECTIONS, _SECTION_WEIGHTS)[0]
        _, words, shops, _ = _INDUSTRY[section]
        roll = rng.random()
        org_type = "1" if roll < 0.82 else ("2" if roll < 0.96 else "3")
        if org_type == "3":
            section = "A"
        established = _EARLIEST_ESTABLISHED + timedelta(days=rng.randrange(span))
        if org_type == "1":
            enterprise_type, suffix, _ = rng.choices(types, type_weights)[0]
            capital = Decimal(rng.choices(_CAPITALS_WAN, _CAPITAL_WEIGHTS)[0])
            employees = max(1, int(float(capital) ** 0.6 * rng.uniform(0.5, 2.0)))
        elif org_type == "2":
            enterprise_type, suffix = "个体工商户", ""
            capital = Decimal(rng.randint(1, 50))
            employees = rng.randint(1, 8)
        else:
            enterprise_type, suffix = "农民专业合作社", ""
            capital = Decimal(rng.choice((10, 20, 50, 100, 200, 500)))
            employees = rng.randint(5, 60)
        trade, name = "", ""
        for attempt in range(40):
            trade, name = _enterprise_name(
                rng, division, org_type, words, shops, suffix, long=attempt >= 20
            )
            if name not in names:
                break
        else:
            continue
        code = make_code("9", org_type, division.code, _org_code8(rng, established))
        if code in codes:
            continue
        codes.add(code)
        names.add(name)
        born_before = min(established.year - 22, 2003)
        out.append(
            Enterprise(
                credit_code=code,
                name=name,
                trade_name=trade,
                division=division.code,
                division_name=division.name,
                industry=section,
                industry_name=INDUSTRY_SECTIONS[section],
                registration_dept="9",
                org_type=org_type,
                enterprise_type=enterprise_type,
                legal_representative=_person_name(rng),
                legal_rep_id_number=_id_number(
                    rng,
                    division.code if rng.random() < 0.7 else rng.choice(DIVISIONS).code,
                    max(1950, born_before - 33),
                    born_before,
                ),
                contact_mobile=_mobile(rng),
                established=established,
                registered_capital=capital,
                employees=employees,
                address=f"{division.local}{rng.choice(_ROADS)}{rng.randint(1, 399)}号",
                basic_account_no=_bank_account(rng),
            )
        )
    return out


# --------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------


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
        return _rfc3339(self.event_time)

    def to_json(self) -> dict[str, Any]:
        return {
            "credit_code": self.credit_code,
            "category": self.category,
            "record_id": self.record_id,
            "version": self.version,
            "event_time": self.event_time_rfc3339,
            "fields": self.fields,
        }


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Ctx:
    """What a field generator sees while one record is being made."""

    __slots__ = ("day", "div", "ent", "event", "rng", "scratch", "sticky")

    def __init__(self, ent: Enterprise, rng: random.Random) -> None:
        self.ent = ent
        self.div = ent.division_info
        self.rng = rng
        self.sticky: dict[str, Any] = {}  # per enterprise and call: stable attributes
        self.scratch: dict[str, Any] = {}  # per record: choices shared between fields
        self.event = END
        self.day = END.date()

    def stable(self, key: str, make: Callable[[random.Random], Any]) -> Any:
        """An attribute of the enterprise that stays the same across its records."""
        if key not in self.sticky:
            self.sticky[key] = make(random.Random(f"{self.ent.credit_code}:{key}"))
        return self.sticky[key]

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self.scratch:
            self.scratch[key] = make()
        return self.scratch[key]


_Gen = Callable[[_Ctx], str | None]


def _money(rng: random.Random, low: float, high: float) -> str:
    cents = rng.randrange(int(low * 100), int(high * 100) + 1)
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(value: str) -> int:
    whole, _, frac = value.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def _fmt_cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _weighted(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]


def _month_start(day: date, back: int = 1) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _days(day: date, delta: int) -> date:
    return day + timedelta(days=delta)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _not_before(day: date, floor: date) -> date:
    return day if day >= floor else floor


def _scale(ctx: _Ctx) -> float:
    return float(ctx.ent.employees)


def _monthly_revenue(ctx: _Ctx) -> int:
    def make() -> int:
        per_head = ctx.stable("revenue_per_head", lambda r: r.uniform(10_000, 50_000))
        return int(_scale(ctx) * per_head * ctx.rng.uniform(0.7, 1.3) * 100)

    result: int = ctx.memo("revenue_cents", make)
    return result


def _authority(ctx: _Ctx, suffix: str = "市场监督管理局") -> str:
    return (
        f"{ctx.div.local}{suffix}"
        if not ctx.div.district.endswith("市")
        else ctx.div.district + suffix
    )


def _court(ctx: _Ctx) -> str:
    return _authority(ctx, "人民法院")


def _doc_no(ctx: _Ctx, word: str) -> str:
    return f"{ctx.div.name_prefix}{word}〔{ctx.day.year}〕{ctx.rng.randint(1, 3000)}号"


def _gov_code(ctx: _Ctx) -> str:
    org = "".join(ctx.rng.choices("0123456789", k=8))
    division = ctx.ent.division
    if len(division) != 6 or not (division.isascii() and division.isdigit()):
        division = "100000"
    return make_code("1", "1", division, org)


# ---- registration ----------------------------------------------------------------------


def _g_business_term_end(ctx: _Ctx) -> str | None:
    end = _years_later(ctx.ent.established, ctx.rng.choice((20, 30, 50)))
    if end <= ctx.day or ctx.rng.random() < 0.45:
        return None  # 长期 (no fixed term)
    return end.isoformat()


def _g_approval_date(ctx: _Ctx) -> str:
    span = max(0, (ctx.day - ctx.ent.established).days)
    return _days(ctx.ent.established, ctx.rng.randint(0, span)).isoformat()


def _g_reg_status(ctx: _Ctx) -> str:
    return _weighted(ctx.rng, (("存续", 92), ("吊销", 3), ("注销", 4), ("迁出", 1)))


# ---- licensing and penalties -----------------------------------------------------------

_LICENSES = (
    ("食品经营许可证", "JY"),
    ("道路运输经营许可证", "YS"),
    ("建筑业企业资质证书", "D"),
    ("排污许可证", "PW"),
    ("危险化学品经营许可证", "WH"),
    ("第二类医疗器械经营备案凭证", "YX"),
    ("药品经营许可证", "YP"),
    ("安全生产许可证", "AQ"),
    ("出版物经营许可证", "CB"),
    ("酒类商品零售许可证", "JL"),
)


def _license(ctx: _Ctx) -> tuple[str, str]:
    result: tuple[str, str] = ctx.memo("license", lambda: ctx.rng.choice(_LICENSES))
    return result


def _g_license_no(ctx: _Ctx) -> str:
    return f"{_license(ctx)[1]}{ctx.ent.division}{ctx.rng.randrange(10**8):08d}"


_VIOLATIONS = (
    (
        "未按规定公示年度报告",
        "《企业信息公示暂行条例》第十八条",
        "未在规定期限内报送上一年度年度报告",
    ),
    (
        "虚假宣传",
        "《中华人民共和国反不正当竞争法》第二十条",
        "在其网店页面对商品性能作虚假的商业宣传",
    ),
    ("销售不合格产品", "《中华人民共和国产品质量法》第四十九条", "销售经抽检不合格的产品"),
    (
        "违反食品安全规定",
        "《中华人民共和国食品安全法》第一百二十六条",
        "未按规定查验供货者许可证和食品合格证明文件",
    ),
    ("未按规定明码标价", "《中华人民共和国价格法》第四十二条", "销售商品未按规定明码标价"),
    ("发布违法广告", "《中华人民共和国广告法》第五十八条", "发布含有绝对化用语的广告"),
    ("无证经营", "《无证无照经营查处办法》第十三条", "未取得许可从事经营活动"),
)


def _violation(ctx: _Ctx) -> tuple[str, str, str]:
    result: tuple[str, str, str] = ctx.memo("violation", lambda: ctx.rng.choice(_VIOLATIONS))
    return result


def _penalty_type(ctx: _Ctx) -> str:
    result: str = ctx.memo(
        "penalty_type",
        lambda: _weighted(
            ctx.rng, (("警告", 15), ("罚款", 50), ("警告;罚款", 20), ("罚款;没收违法所得", 15))
        ),
    )
    return result


def _fine(ctx: _Ctx) -> str | None:
    if "罚款" not in _penalty_type(ctx):
        return None
    result: str = ctx.memo(
        "fine",
        lambda: f"{ctx.rng.choice((0.2, 0.5, 1, 2, 3, 5, 8, 10, 20, 50)):.2f}",
    )
    return result


def _g_penalty_content(ctx: _Ctx) -> str:
    parts = []
    if "警告" in _penalty_type(ctx):
        parts.append("给予警告")
    fine = _fine(ctx)
    if fine is not None:
        parts.append(f"罚款人民币{fine}万元")
    if "没收" in _penalty_type(ctx):
        parts.append("没收违法所得")
    return "，".join(parts) + "。"


def _g_confiscated(ctx: _Ctx) -> str | None:
    if "没收" not in _penalty_type(ctx):
        return None
    return _money(ctx.rng, 0.05, 5)


# ---- judicial and dishonesty lists -------------------------------------------------------

_CASE_TYPES = (("执行", 45, "执"), ("民事", 45, "民初"), ("行政", 5, "行初"), ("刑事", 5, "刑初"))


def _case_type(ctx: _Ctx) -> tuple[str, int, str]:
    result: tuple[str, int, str] = ctx.memo(
        "case_type", lambda: ctx.rng.choices(_CASE_TYPES, [c[1] for c in _CASE_TYPES])[0]
    )
    return result


def _g_case_no(ctx: _Ctx) -> str:
    year = (ctx.day - timedelta(days=_filing_lag(ctx))).year
    court = ctx.div.abbr + ctx.ent.division[2:]
    return f"({year}){court}{_case_type(ctx)[2]}{ctx.rng.randint(1, 9999)}号"


def _filing_lag(ctx: _Ctx) -> int:
    result: int = ctx.memo("filing_lag", lambda: ctx.rng.randint(20, 300))
    return result


def _target(ctx: _Ctx) -> str:
    result: str = ctx.memo("target", lambda: _money(ctx.rng, 10_000, 5_000_000))
    return result


def _performance(ctx: _Ctx) -> str:
    result: str = ctx.memo(
        "performance",
        lambda: _weighted(ctx.rng, (("全部未履行", 50), ("部分未履行", 35), ("全部履行", 15))),
    )
    return result


def _g_unperformed(ctx: _Ctx) -> str:
    target = _cents(_target(ctx))
    status = _performance(ctx)
    if status == "全部履行":
        return "0.00"
    if status == "全部未履行":
        return _fmt_cents(target)
    return _fmt_cents(int(target * ctx.rng.uniform(0.1, 0.9)))


_LISTS = (
    (
        "重大税收违法失信主体",
        "虚开增值税专用发票",
        "《重大税收违法失信主体信息公布管理办法》",
        "tax",
    ),
    (
        "严重违法失信企业名单",
        "被列入经营异常名录届满3年仍未履行相关义务",
        "《市场监督管理严重违法失信名单管理办法》",
        "market",
    ),
    (
        "失信被执行人",
        "有履行能力而拒不履行生效法律文书确定义务",
        "《最高人民法院关于公布失信被执行人名单信息的若干规定》",
        "court",
    ),
    (
        "拖欠农民工工资失信联合惩戒对象名单",
        "拖欠农民工工资数额较大",
        "《拖欠农民工工资失信联合惩戒对象名单管理暂行办法》",
        "hr",
    ),
    (
        "安全生产严重失信主体名单",
        "发生较大生产安全事故",
        "《安全生产严重失信主体名单管理办法》",
        "safety",
    ),
)
_MEASURES = (
    "限制参与政府采购、工程招投标",
    "限制高消费；限制法定代表人乘坐飞机、高铁",
    "在行政审批中从严审核；取消评优评先资格",
    "提高监督检查频次；限制获得财政资金支持",
)


def _listing(ctx: _Ctx) -> tuple[str, str, str, str]:
    result: tuple[str, str, str, str] = ctx.memo("listing", lambda: ctx.rng.choice(_LISTS))
    return result


def _g_listing_authority(ctx: _Ctx) -> str:
    kind = _listing(ctx)[3]
    city = ctx.div.city
    if kind == "tax":
        return f"国家税务总局{city}税务局稽查局"
    if kind == "court":
        return _court(ctx)
    if kind == "hr":
        return f"{city}人力资源和社会保障局"
    if kind == "safety":
        return f"{city}应急管理局"
    return f"{city}市场监督管理局"


def _list_status(ctx: _Ctx) -> str:
    result: str = ctx.memo(
        "list_status",
        lambda: _weighted(ctx.rng, (("在列", 70), ("已移出", 15), ("已信用修复", 15))),
    )
    return result


def _g_listing_date(ctx: _Ctx) -> str:
    if _list_status(ctx) == "在列":
        return ctx.day.isoformat()
    lag: int = ctx.memo("list_lag", lambda: ctx.rng.randint(365, 1095))
    return _not_before(_days(ctx.day, -lag), ctx.ent.established).isoformat()


def _g_removal_date(ctx: _Ctx) -> str | None:
    return None if _list_status(ctx) == "在列" else ctx.day.isoformat()


def _g_repair_date(ctx: _Ctx) -> str | None:
    return ctx.day.isoformat() if _list_status(ctx) == "已信用修复" else None


# ---- honors ----------------------------------------------------------------------------

_HONORS = (
    ("守合同重信用企业", "守合同重信用", "省级", "{province}市场监督管理局", 2),
    ("专精特新中小企业", "专精特新", "省级", "{province}工业和信息化厅", 3),
    ("专精特新“小巨人”企业", "专精特新", "国家级", "工业和信息化部", 3),
    ("高新技术企业", "高新技术企业", "国家级", "{province}科学技术厅", 3),
    ("诚信示范企业", "诚信示范", "市级", "{city}人民政府", 0),
    ("纳税信用A级纳税人", "纳税信用", "省级", "国家税务总局{province}税务局", 1),
)


def _honor(ctx: _Ctx) -> tuple[str, str, str, str, int]:
    result: tuple[str, str, str, str, int] = ctx.memo("honor", lambda: ctx.rng.choice(_HONORS))
    return result


def _g_honor_valid_until(ctx: _Ctx) -> str | None:
    years = _honor(ctx)[4]
    return None if years == 0 else _years_later(ctx.day, years).isoformat()


# ---- tax -------------------------------------------------------------------------------


def _g_taxpayer_type(ctx: _Ctx) -> str:
    return "一般纳税人" if ctx.ent.registered_capital >= 100 else "小规模纳税人"


def _g_tax_rating(ctx: _Ctx) -> str:
    result: str = ctx.stable(
        "tax_rating",
        lambda r: _weighted(r, (("A", 20), ("B", 50), ("M", 20), ("C", 7), ("D", 3))),
    )
    return result


def _vat(ctx: _Ctx) -> int:
    def make() -> int:
        rate = 0.01 if _g_taxpayer_type(ctx) == "小规模纳税人" else ctx.rng.uniform(0.02, 0.06)
        return int(_monthly_revenue(ctx) * rate)

    result: int = ctx.memo("vat", make)
    return result


def _income_tax(ctx: _Ctx) -> int:
    result: int = ctx.memo(
        "income_tax", lambda: int(_monthly_revenue(ctx) * ctx.rng.uniform(0.0, 0.025))
    )
    return result


def _g_total_tax(ctx: _Ctx) -> str:
    surcharges = _vat(ctx) * 12 // 100
    return _fmt_cents(_vat(ctx) + _income_tax(ctx) + surcharges)


def _arrears_or_zero(ctx: _Ctx, p: float, low: float, high: float) -> str:
    return _money(ctx.rng, low, high) if ctx.rng.random() < p else "0.00"


# ---- social insurance and housing fund -----------------------------------------------


def _headcount(ctx: _Ctx) -> int:
    result: int = ctx.memo(
        "headcount", lambda: max(1, round(ctx.ent.employees * ctx.rng.uniform(0.85, 1.05)))
    )
    return result


def _wage_base_cents(ctx: _Ctx) -> int:
    per_head = ctx.stable("wage", lambda r: r.uniform(4_000, 12_000))
    result: int = ctx.memo("wage_base", lambda: int(_headcount(ctx) * per_head * 100))
    return result


def _si_status(ctx: _Ctx) -> str:
    result: str = ctx.memo(
        "si_status",
        lambda: _weighted(ctx.rng, (("正常缴费", 93), ("欠费未缴", 5), ("暂停缴费", 2))),
    )
    return result


def _si_arrears_months(ctx: _Ctx) -> int:
    result: int = ctx.memo(
        "si_arrears", lambda: ctx.rng.randint(1, 6) if _si_status(ctx) == "欠费未缴" else 0
    )
    return result


def _si_monthly(ctx: _Ctx) -> int:
    result: int = ctx.memo(
        "si_monthly", lambda: int(_wage_base_cents(ctx) * ctx.rng.uniform(0.30, 0.40))
    )
    return result


def _hf_ratio(ctx: _Ctx) -> int:
    result: int = ctx.stable("hf_ratio", lambda r: r.choice((5, 6, 7, 8, 10, 12)))
    return result


def _hf_status(ctx: _Ctx) -> str:
    result: str = ctx.memo(
        "hf_status",
        lambda: _weighted(ctx.rng, (("正常缴存", 96), ("单位封存", 3), ("单位销户", 1))),
    )
    return result


def _hf_monthly(ctx: _Ctx) -> int:
    return _wage_base_cents(ctx) * _hf_ratio(ctx) * 2 // 100


def _hf_arrears_months(ctx: _Ctx) -> int:
    result: int = ctx.memo("hf_arrears", lambda: ctx.rng.choices((0, 1, 2, 3), (92, 4, 2, 2))[0])
    return result


# ---- utilities -------------------------------------------------------------------------


def _kwh(ctx: _Ctx) -> int:
    heavy = ctx.ent.industry in "BCD"
    per_head = ctx.stable("kwh", lambda r: r.uniform(800, 4000) if heavy else r.uniform(80, 600))
    result: int = ctx.memo("kwh", lambda: int(_scale(ctx) * per_head * ctx.rng.uniform(0.8, 1.2)))
    return result


def _water(ctx: _Ctx) -> int:
    result: int = ctx.memo("water", lambda: int(_scale(ctx) * ctx.rng.uniform(1, 6)) + 1)
    return result


def _gas(ctx: _Ctx) -> int:
    uses = ctx.stable("uses_gas", lambda r: r.random() < 0.5 or ctx.ent.industry in "CH")
    result: int = ctx.memo("gas", lambda: int(_scale(ctx) * ctx.rng.uniform(2, 30)) if uses else 0)
    return result


# ---- real estate ---------------------------------------------------------------------


def _mortgage(ctx: _Ctx) -> str:
    result: str = ctx.memo(
        "mortgage", lambda: _weighted(ctx.rng, (("无抵押", 55), ("已抵押", 40), ("已查封", 5)))
    )
    return result


def _g_certificate_no(ctx: _Ctx) -> str:
    serial = ctx.rng.randrange(10**7)
    return f"{ctx.div.abbr}({ctx.day.year}){ctx.div.city[:-1]}不动产权第{serial:07d}号"


def _g_location(ctx: _Ctx) -> str:
    rng = ctx.rng
    return f"{ctx.div.local}{rng.choice(_ROADS)}{rng.randint(1, 499)}号{rng.randint(1, 12)}#楼"


# ---- customs ----------------------------------------------------------------------------


def _g_customs_code(ctx: _Ctx) -> str:
    result: str = ctx.stable(
        "customs_code",
        lambda r: (
            f"{ctx.ent.division[:4]}{r.choice('1234569')}{r.choice('1234')}{r.randrange(10**4):04d}"
        ),
    )
    return result


def _trades(ctx: _Ctx) -> bool:
    result: bool = ctx.stable("trades", lambda r: r.random() < 0.6 or ctx.ent.industry in "CF")
    return result


# ---- intellectual property ------------------------------------------------------------

_IP_TYPES = (
    ("发明专利", 20, "1", 20),
    ("实用新型", 40, "2", 10),
    ("外观设计", 10, "3", 15),
    ("注册商标", 30, "", 10),
)
_OBJECTS = _words("数控机床 输送带 茶叶烘干机 电池模组 智能门锁 包装盒 传感器 鞋底 布料 服务器机柜")
_PARTS = ("冷却装置", "固定结构", "检测方法", "控制系统", "连接组件", "制备方法", "散热结构")


def _ip_type(ctx: _Ctx) -> tuple[str, int, str, int]:
    result: tuple[str, int, str, int] = ctx.memo(
        "ip_type", lambda: ctx.rng.choices(_IP_TYPES, [t[1] for t in _IP_TYPES])[0]
    )
    return result


def _ip_lag(ctx: _Ctx) -> int:
    result: int = ctx.memo("ip_lag", lambda: ctx.rng.randint(150, 900))
    return result


def _ip_application(ctx: _Ctx) -> date:
    return _not_before(_days(ctx.day, -_ip_lag(ctx)), ctx.ent.established)


def _patent_check(digits12: str) -> str:
    total = sum(
        int(d) * w for d, w in zip(digits12, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), strict=True)
    )
    check = total % 11
    return "X" if check == 10 else str(check)


def _g_registration_no(ctx: _Ctx) -> str:
    kind = _ip_type(ctx)
    if not kind[2]:
        return str(ctx.rng.randint(10_000_000, 79_999_999))
    digits = f"{_ip_application(ctx).year}{kind[2]}{ctx.rng.randrange(10**7):07d}"
    return f"ZL{digits}.{_patent_check(digits)}"


def _g_ip_name(ctx: _Ctx) -> str:
    kind = _ip_type(ctx)[0]
    if kind == "注册商标":
        return ctx.ent.trade_name
    thing = ctx.rng.choice(_OBJECTS)
    if kind == "外观设计":
        return f"{thing}（{ctx.rng.choice(('一', '二', '三'))}）"
    return f"一种{thing}的{ctx.rng.choice(_PARTS)}"


def _g_ip_expiry(ctx: _Ctx) -> str:
    kind = _ip_type(ctx)
    start = ctx.day if kind[0] == "注册商标" else _ip_application(ctx)
    return _years_later(start, kind[3]).isoformat()


def _ip_status(ctx: _Ctx) -> str:
    result: str = ctx.memo(
        "ip_status", lambda: _weighted(ctx.rng, (("有效", 85), ("质押", 10), ("失效", 5)))
    )
    return result


# ---- research and development ----------------------------------------------------------


def _high_tech(ctx: _Ctx) -> bool:
    result: bool = ctx.stable(
        "high_tech", lambda r: r.random() < (0.5 if ctx.ent.industry in "CIM" else 0.1)
    )
    return result


def _rnd_ratio(ctx: _Ctx) -> float:
    result: float = ctx.memo(
        "rnd_ratio", lambda: ctx.rng.uniform(3, 12) if _high_tech(ctx) else ctx.rng.uniform(0, 4)
    )
    return result


def _patents(ctx: _Ctx) -> int:
    result: int = ctx.memo(
        "patents", lambda: ctx.rng.randint(5, 80) if _high_tech(ctx) else ctx.rng.randint(0, 8)
    )
    return result


def _g_cert_no(ctx: _Ctx) -> str | None:
    if not _high_tech(ctx):
        return None
    result: str = ctx.stable(
        "cert_no",
        lambda r: f"GR{r.randint(2019, 2024)}{ctx.ent.division[:2]}{r.randrange(10**6):06d}",
    )
    return result


# (category id or "" for any category, field name) -> (field type, generator)
_KNOWN: dict[tuple[str, str], tuple[FieldType, _Gen]] = {}


def _known(name: str, ftype: FieldType, gen: _Gen, *, category: str = "") -> None:
    _KNOWN[(category, name)] = (ftype, gen)


_S, _I, _D, _DA, _B = (
    FieldType.STRING,
    FieldType.INTEGER,
    FieldType.DECIMAL,
    FieldType.DATE,
    FieldType.BOOLEAN,
)

# registration
_known("enterprise_name", _S, lambda c: c.ent.name)
_known("enterprise_type", _S, lambda c: c.ent.enterprise_type)
_known("legal_representative", _S, lambda c: c.ent.legal_representative)
_known("legal_rep_id_number", _S, lambda c: c.ent.legal_rep_id_number)
_known("registered_capital", _D, lambda c: f"{c.ent.registered_capital:.2f}")
_known("establishment_date", _DA, lambda c: c.ent.established.isoformat())
_known("business_term_end", _DA, _g_business_term_end)
_known("business_scope", _S, lambda c: _INDUSTRY.get(c.ent.industry, _INDUSTRY["F"])[3])
_known("address", _S, lambda c: c.ent.address)
_known("registration_authority", _S, _authority)
_known("approval_date", _DA, _g_approval_date)
_known("status", _S, _g_reg_status, category="registration")
_known("contact_mobile", _S, lambda c: c.ent.contact_mobile)
_known("basic_account_no", _S, lambda c: c.ent.basic_account_no)
# admin_license
_known("license_document_no", _S, lambda c: _doc_no(c, "市监许"))
_known("license_name", _S, lambda c: _license(c)[0])
_known("license_no", _S, _g_license_no)
_known(
    "license_category",
    _S,
    lambda c: _weighted(
        c.rng, (("普通", 70), ("特许", 5), ("认可", 5), ("核准", 10), ("登记", 10))
    ),
)
_known("license_content", _S, lambda c: f"准予核发《{_license(c)[0]}》")
_known("valid_from", _DA, lambda c: c.day.isoformat())
_known("valid_until", _DA, lambda c: _years_later(c.day, c.rng.choice((3, 5))).isoformat())
_known("licensing_authority", _S, _authority)
_known("licensing_authority_code", _S, _gov_code)
# admin_penalty
_known("penalty_document_no", _S, lambda c: _doc_no(c, "市监处罚"))
_known("violation_type", _S, lambda c: _violation(c)[0])
_known("violation_facts", _S, lambda c: f"经查，当事人{_violation(c)[2]}。")
_known("penalty_basis", _S, lambda c: _violation(c)[1])
_known("penalty_type", _S, _penalty_type)
_known("penalty_content", _S, _g_penalty_content)
_known("fine_amount", _D, _fine)
_known("confiscated_amount", _D, _g_confiscated)
_known("decision_date", _DA, lambda c: c.day.isoformat())
_known("publicity_until", _DA, lambda c: _days(c.day, c.rng.choice((90, 365, 1095))).isoformat())
_known("penalty_authority", _S, _authority)
# judicial
_known("case_no", _S, _g_case_no)
_known("court_name", _S, _court)
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
_known("filing_date", _DA, lambda c: _days(c.day, -_filing_lag(c)).isoformat())
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
_known("punishment_measures", _S, lambda c: c.rng.choice(_MEASURES))
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
_known("document_no", _S, lambda c: _doc_no(c, "政"))
_known("valid_until", _DA, _g_honor_valid_until, category="honors")
# tax
_known("tax_period", _DA, lambda c: _month_start(c.day).isoformat())
_known("taxpayer_type", _S, _g_taxpayer_type)
_known("tax_credit_rating", _S, _g_tax_rating)
_known(
    "filing_status",
    _S,
    lambda c: _weighted(c.rng, (("正常申报", 92), ("逾期申报", 6), ("未申报", 2))),
)
_known("taxable_revenue", _D, lambda c: _fmt_cents(_monthly_revenue(c)))
_known("vat_paid", _D, lambda c: _fmt_cents(_vat(c)))
_known("income_tax_paid", _D, lambda c: _fmt_cents(_income_tax(c)))
_known("total_tax_paid", _D, _g_total_tax)
_known(
    "invoice_amount", _D, lambda c: _fmt_cents(int(_monthly_revenue(c) * c.rng.uniform(0.8, 1.1)))
)
# arrears_amount is shared by tax, social insurance, housing fund and utilities
_known(
    "arrears_amount",
    _D,
    lambda c: (
        _fmt_cents(_si_monthly(c) * _si_arrears_months(c))
        if "si_status" in c.scratch
        else _fmt_cents(_hf_monthly(c) * _hf_arrears_months(c))
        if "hf_status" in c.scratch
        else _arrears_or_zero(c, 0.08, 100, 50_000)
    ),
)
# social insurance
_known("contribution_month", _DA, lambda c: _month_start(c.day).isoformat())
_known("insured_headcount", _I, lambda c: str(_headcount(c)))
_known("contribution_base_total", _D, lambda c: _fmt_cents(_wage_base_cents(c)))
_known("monthly_contribution_total", _D, lambda c: _fmt_cents(_si_monthly(c)))
_known("payment_status", _S, _si_status)
_known(
    "arrears_months",
    _I,
    lambda c: str(_si_arrears_months(c) if "si_status" in c.scratch else _hf_arrears_months(c)),
)
# housing fund
_known("deposit_month", _DA, lambda c: _month_start(c.day).isoformat())
_known("depositor_headcount", _I, lambda c: str(_headcount(c)))
_known("monthly_deposit_total", _D, lambda c: _fmt_cents(_hf_monthly(c)))
_known("deposit_ratio_percent", _I, lambda c: str(_hf_ratio(c)))
_known("account_status", _S, _hf_status)
_known(
    "fund_account_no",
    _S,
    lambda c: str(c.stable("fund_account", lambda r: r.randrange(10**11, 10**12))),
)
# utilities
_known("billing_month", _DA, lambda c: _month_start(c.day).isoformat())
_known("electricity_kwh", _I, lambda c: str(_kwh(c)))
_known("electricity_fee", _D, lambda c: _fmt_cents(int(_kwh(c) * c.rng.uniform(60, 95))))
_known("water_tons", _I, lambda c: str(_water(c)))
_known("water_fee", _D, lambda c: _fmt_cents(int(_water(c) * c.rng.uniform(350, 520))))
_known("gas_m3", _I, lambda c: str(_gas(c)))
_known("gas_fee", _D, lambda c: _fmt_cents(int(_gas(c) * c.rng.uniform(300, 450))))
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
    lambda c: _weighted(
        c.rng, (("工业", 40), ("商业", 20), ("办公", 25), ("仓储", 10), ("住宅", 5))
    ),
)
_known("land_area", _D, lambda c: _money(c.rng, 200, 50_000))
_known("building_area", _D, lambda c: _money(c.rng, 80, 30_000))
_known("registration_date", _DA, lambda c: c.day.isoformat())
_known("mortgage_status", _S, _mortgage)
_known(
    "mortgagee",
    _S,
    lambda c: (
        f"{c.rng.choice(_BANKS)}股份有限公司{c.div.city[:-1]}分行"
        if _mortgage(c) == "已抵押"
        else None
    ),
)
_known(
    "mortgage_amount",
    _D,
    lambda c: _money(c.rng, 500_000, 50_000_000) if _mortgage(c) == "已抵押" else None,
)
# import and export
_known("stat_month", _DA, lambda c: _month_start(c.day).isoformat())
_known("customs_code", _S, _g_customs_code)
_known(
    "customs_credit_rating",
    _S,
    lambda c: str(
        c.stable(
            "customs_rating",
            lambda r: _weighted(r, (("一般信用企业", 85), ("高级认证企业", 10), ("失信企业", 5))),
        )
    ),
)
_known(
    "import_amount", _D, lambda c: _money(c.rng, 0, _scale(c) * 40_000) if _trades(c) else "0.00"
)
_known(
    "export_amount", _D, lambda c: _money(c.rng, 0, _scale(c) * 80_000) if _trades(c) else "0.00"
)
_known("declarations_count", _I, lambda c: str(c.rng.randint(1, 60) if _trades(c) else 0))
_known(
    "main_trade_mode",
    _S,
    lambda c: str(
        c.stable(
            "trade_mode",
            lambda r: _weighted(
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
    lambda c: _fmt_cents(int(_monthly_revenue(c) * 12 * _rnd_ratio(c) / 100)),
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
    lambda c: _money(c.rng, 0, _scale(c) * 20_000) if _high_tech(c) else "0.00",
)
# Fields whose values read choices made by others must see those choices first.
_STATUS_FIRST: dict[str, Callable[[_Ctx], str]] = {
    "payment_status": _si_status,
    "account_status": _hf_status,
}


# ---- fallback by type and name ---------------------------------------------------------


def _fallback(spec: FieldSpec) -> _Gen:
    """A generator chosen from the field's type and words in its name."""
    name = spec.name.lower()

    def has(*words: str) -> bool:
        return any(w in name for w in words)

    if spec.type is FieldType.STRING:
        if has("credit_code", "uscc"):
            if has("authority", "issuer", "agency", "dept", "department"):
                return _gov_code
            return lambda c: c.ent.credit_code
        if has("id_number", "id_card", "idcard", "id_no", "identity"):
            if has("legal", "rep"):
                return lambda c: c.ent.legal_rep_id_number
            return lambda c: _id_number(c.rng, c.rng.choice(DIVISIONS).code, 1960, 2004)
        if has("mobile", "phone", "tel"):
            return lambda c: _mobile(c.rng)
        if has("account", "card_no", "iban"):
            return lambda c: _bank_account(c.rng)
        if has("email"):
            return lambda c: f"user{c.rng.randrange(10**6):06d}@example.com"
        if has("enterprise", "company", "corp", "org") and has("name"):
            return lambda c: c.ent.name
        if has("person", "legal", "rep", "contact", "operator", "holder", "manager", "owner"):
            return lambda c: _person_name(c.rng)
        if has("name"):
            return lambda c: _person_name(c.rng) if c.rng.random() < 0.5 else c.ent.name
        if has("address", "location", "addr"):
            return lambda c: c.ent.address
        if has("authority", "court", "department", "agency", "organ"):
            return _authority
        if has("rating", "grade", "level"):
            return lambda c: c.rng.choice(("A", "B", "C", "D"))
        if has("status", "state"):
            return lambda c: _weighted(c.rng, (("正常", 90), ("异常", 10)))
        if has("division", "region", "area_code"):
            return lambda c: c.ent.division
        if name.endswith(("_no", "_number", "_code", "_id")) or has("number"):
            return lambda c: f"{c.div.abbr}{c.ent.division}{c.rng.randrange(10**8):08d}"
        return lambda c: f"示例{spec.name_zh or spec.name}{c.rng.randrange(10**4):04d}"
    if spec.type is FieldType.INTEGER:
        if has("month", "day", "overdue"):
            return lambda c: str(c.rng.choices((0, 1, 2, 3, 6, 12), (80, 8, 5, 3, 2, 2))[0])
        if has("year"):
            return lambda c: str(c.day.year)
        if has("count", "headcount", "number", "num", "qty", "quantity", "employees", "staff"):
            return lambda c: str(c.rng.randint(0, max(1, c.ent.employees * 2)))
        if has("percent", "ratio", "rate"):
            return lambda c: str(c.rng.randint(0, 100))
        return lambda c: str(c.rng.randint(0, 10_000))
    if spec.type is FieldType.DECIMAL:
        if has("percent", "ratio", "rate"):
            return lambda c: _money(c.rng, 0, 100)
        if has("area"):
            return lambda c: _money(c.rng, 10, 20_000)
        if has("capital"):
            return lambda c: f"{c.ent.registered_capital:.2f}"
        return lambda c: _money(c.rng, 0, max(1_000.0, _scale(c) * 20_000))
    if spec.type is FieldType.DATE:
        if has("birth"):
            return lambda c: _days(date(1960, 1, 1), c.rng.randrange(16_000)).isoformat()
        if has("establish", "founded", "incorporat"):
            return lambda c: c.ent.established.isoformat()
        if has("until", "expir", "end", "deadline", "due", "removal") or name.endswith("_to"):
            return lambda c: _days(c.day, c.rng.randint(30, 1825)).isoformat()
        if has("month", "period"):
            return lambda c: _month_start(c.day).isoformat()
        return lambda c: _not_before(
            _days(c.day, -c.rng.randint(0, 30)), c.ent.established
        ).isoformat()
    if spec.type is FieldType.DATETIME:
        return lambda c: _rfc3339(c.event - timedelta(seconds=c.rng.randint(0, 3600)))
    # BOOLEAN
    if has("arrear", "overdue", "dishonest", "restrict", "sealed", "pledge", "default", "penal"):
        return lambda c: "true" if c.rng.random() < 0.15 else "false"
    return lambda c: "true" if c.rng.random() < 0.5 else "false"


def _plan(category: Category) -> list[tuple[FieldSpec, _Gen, _Gen | None, bool]]:
    """For each field: its generator, the fallback when a known generator yields nothing
    for a required field, and whether an optional value may be left out at random."""
    plan: list[tuple[FieldSpec, _Gen, _Gen | None, bool]] = []
    for spec in category.fields:
        known = _KNOWN.get((category.id, spec.name)) or _KNOWN.get(("", spec.name))
        if known is not None and known[0] is spec.type:
            # A known generator leaves a value out itself when it does not apply.
            plan.append((spec, known[1], _fallback(spec) if spec.required else None, False))
        else:
            plan.append((spec, _fallback(spec), None, not spec.required))
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
    ctx = _Ctx(enterprise, rng)
    plan = _plan(category)
    primers = [prime for name, prime in _STATUS_FIRST.items() if category.field(name) is not None]
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
                    _rfc3339(record.event_time),
                    *(fields.get(name, "") for name in names),
                )
            )
            count += 1
    return count
