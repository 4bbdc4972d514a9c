"""The message catalogue: Simplified Chinese first, English on request.

The language is ``?lang=en|zh``, else the ``lang`` cookie (set whenever
``?lang`` is given), else Chinese. A plain dict, not gettext: the pages have a
few hundred labels and one maintainer.

>>> t("nav.inbound", "zh"), t("nav.inbound", "en")
('来沪投资', 'Inbound')
>>> t("no.such.key", "en")
'no.such.key'
"""

from __future__ import annotations

from typing import Any

LANGS = ("zh", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    "app.title": (
        "各地来沪投资与上海在外地投资数据系统",
        "Inter-provincial Investment Data System",
    ),
    "app.short": ("合作交流数据", "Cooperation Data"),
    "nav.overview": ("总览", "Overview"),
    "nav.inbound": ("来沪投资", "Inbound"),
    "nav.outbound": ("在外地投资", "Outbound"),
    "nav.enterprises": ("企业查询", "Enterprises"),
    "nav.data": ("数据", "Data"),
    "nav.definitions": ("口径", "Definitions"),
    "nav.api": ("接口文档", "API docs"),
    "lang.switch": ("English", "中文"),
    "kind.inbound": ("各地来沪投资", "Investment into Shanghai"),
    "kind.outbound": ("上海在外地投资", "Shanghai investment elsewhere"),
    "m.enterprises": ("企业数", "Enterprises"),
    "m.new_enterprises": ("新设企业", "New enterprises"),
    "m.investment_wan": ("投资额（万元）", "Investment (10k CNY)"),
    "m.tax_wan": ("纳税额（万元）", "Tax (10k CNY)"),
    "m.revenue_wan": ("营业收入（万元）", "Revenue (10k CNY)"),
    "m.employees": ("从业人员", "Employees"),
    "m.yoy": ("同比", "YoY"),
    "dim.origin_province": ("来源省份", "Origin province"),
    "dim.origin_prefecture": ("来源地市", "Origin prefecture"),
    "dim.district": ("所在区", "Shanghai district"),
    "dim.dest_province": ("目的地省份", "Destination province"),
    "dim.dest_prefecture": ("目的地地市", "Destination prefecture"),
    "dim.industry_section": ("行业门类", "Industry section"),
    "dim.industry_division": ("行业大类", "Industry division"),
    "dim.support_region": ("对口支援地区", "Counterpart-support region"),
    "total": ("合计", "Total"),
    "period": ("统计期", "Period"),
    "reference_date": ("截至", "As of"),
    "penetrate": ("穿透计算", "Penetrate ownership"),
    "include_persons": ("含自然人股东", "Include natural persons"),
    "apply": ("查询", "Apply"),
    "definitions.link": ("口径", "definition"),
    "export.csv": ("导出 CSV", "CSV"),
    "export.xlsx": ("导出 Excel", "Excel"),
    "export.json": ("JSON 接口", "JSON API"),
    "trend.year": ("按年趋势", "Trend by year"),
    "trend.quarter": ("按季度趋势", "Trend by quarter"),
    "map.inbound": ("各省来沪投资额", "Investment into Shanghai by province"),
    "map.outbound": ("上海在各省投资额", "Shanghai investment by province"),
    "drill.up": ("返回上级", "Up"),
    "drill.enterprises": ("企业名单", "Enterprises"),
    "search.placeholder": ("企业名称或统一社会信用代码", "Name or USCC"),
    "search.button": ("搜索", "Search"),
    "search.none": ("没有找到企业", "No enterprise found"),
    "more": ("下一页", "Next page"),
    "profile.registry": ("登记信息", "Registration"),
    "profile.investors": ("股东及来源地", "Investors and origin"),
    "profile.chain": ("股权穿透（向上）", "Ownership chain (upward)"),
    "profile.tax": ("按月纳税", "Tax by month"),
    "profile.stats": ("年度统计", "Annual statistics"),
    "profile.links": ("记录关联", "Record links"),
    "data.batches": ("载入批次", "Loads"),
    "data.quarantine": ("隔离行", "Quarantined rows"),
    "data.freshness": ("数据时效", "Freshness"),
    "data.links": ("待审核关联", "Links to review"),
    "data.upload": ("上传交付文件", "Upload a delivery"),
    "data.jobs": ("载入任务", "Load jobs"),
    "data.inbox": ("收件目录", "Inbox folder"),
    "data.source": ("数据源", "Source"),
    "data.current_rows": ("当前行数", "Current rows"),
    "data.latest": ("数据截至", "Data up to"),
    "data.last_batch": ("最近批次", "Last load"),
    "data.last_file": ("最近文件", "Last file"),
    "data.loaded_at": ("载入时间", "Loaded at"),
    "data.days": ("距今天数", "Days ago"),
    "data.strict": ("严格模式（任一行有误即拒收）", "Strict (refuse the file if any row fails)"),
    "data.submit": ("上传并载入", "Upload and load"),
    "data.inbox_hint": (
        "中的文件会被自动载入。",
        ": files dropped there are loaded automatically.",
    ),
    "data.job": ("任务", "Job"),
    "data.origin": ("来源", "Origin"),
    "data.file": ("文件", "File"),
    "data.status": ("状态", "Status"),
    "data.result": ("结果", "Result"),
    "data.submitted": ("提交时间", "Submitted"),
    "data.batch": ("批次", "Load"),
    "data.row": ("行号", "Row"),
    "data.reasons": ("原因", "Reasons"),
    "data.raw": ("原始内容", "Row as delivered"),
    "empty": ("暂无数据", "No data"),
    "suppressed": ("因保密不显示", "suppressed (confidential)"),
    "error.title": ("出错了", "Error"),
    "unknown": ("未知", "Unknown"),
}


def t(key: str, lang: str = "zh") -> str:
    """The label for ``key`` in ``lang``; the key itself when missing (visible, not fatal)."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def lang_of(request: Any) -> str:
    """The request's language: ``?lang=``, else the cookie, else Chinese."""
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get("lang")
    return c if c in LANGS else "zh"
