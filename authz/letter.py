"""The authorization letter (授权书) an enterprise reads before it signs a grant.

The letter is rendered from ``TEMPLATE`` and says, in Chinese, exactly what the grant
says: the enterprise and its 统一社会信用代码, the grantee, the categories and fields by
their catalog names, the purpose, the validity period, the use limit, the right to
revoke and the grant id. It ends with the SHA-256 fingerprint of the grant's canonical
bytes, which is what the enterprise actually signs, so the letter binds to one grant.

Times are shown in Beijing time (UTC+8). A period ending at midnight is shown ending on
the previous day (through the end of that day): not_after 2027-01-05T00:00+08:00 reads
"2027年1月4日". Any other time is shown to the minute (and second, if not zero).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from string import Template

from authz.catalog import Catalog, Category
from authz.grants import Grant
from authz.statements import split_field_ref
from xinlian.errors import InvalidArgument
from xinlian.workdays import SHANGHAI

MAX_DISPLAY_NAME_CHARS = 100
_UNSAFE_RE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

TEMPLATE = Template(
    """\
企业信用信息查询授权书

授权编号：${grant_id}

授权人（企业）：${enterprise_name}
统一社会信用代码：${credit_code}
被授权人：${grantee_name}（节点标识：${grantee_node_id}）

本企业同意被授权人通过全国中小企业融资综合信用服务平台省级节点，查询并使用本企业的下列信用信息：
${scope}

一、授权用途：仅限于“${purpose}”。被授权人不得将所获信息用于其他用途，不得向任何第三方提供。
二、授权期限：${not_before} 至 ${not_after}（北京时间）。期限届满，授权自动失效。
三、查询次数：${uses}
四、撤回权利：本企业有权随时撤回本授权。撤回声明经本企业电子签名后提交，\
自网关收到之时起，此后的查询不再依据本授权提供任何信息。
五、网关按信息的敏感级别对提供给被授权人的信息进行脱敏处理；本企业查询本企业的信息免费。

签发时间：${issued_at}（北京时间）
授权内容指纹（SHA-256）：${fingerprint}

本授权书由授权内容的规范编码生成。上述指纹是该规范编码的 SHA-256 摘要，\
本企业以登记的密钥对该规范编码进行电子签名，即确认本授权书所列全部内容。
"""
)


def _display_name(value: str | None, field_name: str) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > MAX_DISPLAY_NAME_CHARS or _UNSAFE_RE.search(text):
        raise InvalidArgument.field(
            field_name,
            value,
            f"1-{MAX_DISPLAY_NAME_CHARS} characters without control or direction characters",
        )
    return text


def zh_date(when: datetime) -> str:
    local = when.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日"


def zh_datetime(when: datetime) -> str:
    local = when.astimezone(SHANGHAI)
    text = f"{zh_date(local)}{local.hour}时{local.minute:02d}分"
    if local.second:
        text += f"{local.second:02d}秒"
    return text


def _at_midnight(when: datetime) -> bool:
    local = when.astimezone(SHANGHAI)
    return (local.hour, local.minute, local.second) == (0, 0, 0)


def zh_period_start(when: datetime) -> str:
    return zh_date(when) if _at_midnight(when) else zh_datetime(when)


def zh_period_end(when: datetime) -> str:
    if _at_midnight(when):
        return zh_date(when - timedelta(days=1))
    return zh_datetime(when)


def _scope_lines(grant: Grant, catalog: Catalog) -> list[str]:
    by_category: dict[str, set[str]] = {}
    for ref in grant.fields:
        category_id, name = split_field_ref(ref)
        by_category.setdefault(category_id, set()).add(name)
    lines: list[str] = []
    for number, category_id in enumerate(sorted(set(by_category) | grant.categories), 1):
        category: Category = catalog.require(category_id, field_name="grant.categories")
        if category_id in grant.categories:
            lines.append(f"  {number}. {category.name_zh}：全部信息项")
            continue
        names = by_category[category_id]
        unknown = sorted(names - set(category.field_names))
        if unknown:
            raise InvalidArgument.field(
                "grant.fields", f"{category_id}.{unknown[0]}", f"a field of {category_id}"
            )
        shown = "、".join(spec.name_zh for spec in category.fields if spec.name in names)
        lines.append(f"  {number}. {category.name_zh}：{shown}")
    return lines


def render_letter(
    grant: Grant,
    catalog: Catalog,
    *,
    grantee_name: str,
    enterprise_name: str | None = None,
) -> str:
    """The Chinese 授权书 for ``grant``; raises InvalidArgument for unknown names."""
    grantee = _display_name(grantee_name, "grantee_name")
    enterprise = _display_name(enterprise_name, "enterprise_name")
    if grant.max_uses is None:
        uses = "授权期限内不限次数。"
    else:
        uses = f"最多 {grant.max_uses} 次，用完即失效。"
    return TEMPLATE.substitute(
        grant_id=grant.grant_id,
        enterprise_name=enterprise or f"统一社会信用代码为 {grant.credit_code} 的企业",
        credit_code=grant.credit_code,
        grantee_name=grantee,
        grantee_node_id=grant.grantee_node_id,
        scope="\n".join(_scope_lines(grant, catalog)),
        purpose=grant.purpose.label_zh,
        not_before=zh_period_start(grant.not_before),
        not_after=zh_period_end(grant.not_after),
        uses=uses,
        issued_at=zh_datetime(grant.issued_at),
        fingerprint=grant.fingerprint(),
    )
