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
    "nav.catalogue": ("共享目录", "Catalogue"),
    "nav.usage": ("使用情况", "Usage"),
    "nav.admin": ("管理", "Admin"),
    "nav.audit": ("审计日志", "Audit log"),
    "signin.title": ("登录", "Sign in"),
    "signin.logout": ("退出", "Sign out"),
    "signin.username": ("用户名", "Username"),
    "signin.password": ("密码", "Password"),
    "signin.submit": ("登录", "Sign in"),
    "signin.hint": (
        "账户由本办管理员开设；忘记密码或账户被锁定请联系管理员。",
        "Accounts are opened by the office's administrator; ask them to reset or unlock.",
    ),
    "signin.insecure": (
        "本页面未经 HTTPS 访问，浏览器不会保存安全 Cookie：请通过 HTTPS 访问，或由管理员在设置中关闭 cookie_secure。",
        "This page is not served over HTTPS, so the secure session cookie will not be kept.",
    ),
    "catalogue.intro": (
        "无条件共享的数据登录即可使用；有条件共享的数据需写明用途提出申请，经审批后在期限内可用；不予共享的数据仅供本办使用。",
        "Unconditional data is open to every signed-in partner; conditional data is granted "
        "on request for a stated purpose until an expiry; data not shared stays with the office.",
    ),
    "catalogue.dataset": ("数据集", "Dataset"),
    "catalogue.sharing": ("共享类型", "Sharing"),
    "catalogue.description": ("说明", "Description"),
    "catalogue.frequency": ("更新频率", "Updated"),
    "catalogue.last_update": ("最近更新", "Last update"),
    "catalogue.access": ("我的权限", "My access"),
    "catalogue.fields": ("字段", "Fields"),
    "catalogue.yes": ("可使用", "Available"),
    "catalogue.granted": ("已授权，至", "Granted until"),
    "catalogue.pending": ("申请审批中", "Request pending"),
    "catalogue.no": ("不可申请", "Not available"),
    "catalogue.purpose": ("用途", "Purpose"),
    "catalogue.days": ("期限（天）", "Days"),
    "catalogue.request": ("申请", "Request"),
    "catalogue.mine": ("我的申请", "My requests"),
    "catalogue.status": ("状态", "Status"),
    "catalogue.reason": ("理由", "Reason"),
    "catalogue.requested_at": ("申请时间", "Requested"),
    "status.pending": ("待审批", "Pending"),
    "status.approved": ("已批准", "Approved"),
    "status.rejected": ("已驳回", "Rejected"),
    "admin.pending": ("待审批申请", "Pending requests"),
    "admin.decided": ("已处理申请", "Decided requests"),
    "admin.grants": ("授权", "Grants"),
    "admin.users": ("账户", "Accounts"),
    "admin.keys": ("接口密钥", "API keys"),
    "admin.user": ("账户", "Account"),
    "admin.name": ("名称", "Name"),
    "admin.role": ("角色", "Role"),
    "admin.org": ("单位", "Agency / office"),
    "admin.districts": ("辖区", "Districts"),
    "admin.districts_hint": ("辖区代码，如 310115（区用户）", "district codes, e.g. 310115"),
    "admin.last_login": ("最近登录", "Last sign-in"),
    "admin.active": ("有效", "Active"),
    "admin.disabled": ("已停用", "Disabled"),
    "admin.locked": ("已锁定", "Locked"),
    "admin.expired": ("已过期", "Expired"),
    "admin.revoked": ("已收回", "Revoked"),
    "admin.approve": ("批准", "Approve"),
    "admin.reject": ("驳回", "Reject"),
    "admin.revoke": ("收回", "Revoke"),
    "admin.enable": ("启用", "Enable"),
    "admin.disable": ("停用", "Disable"),
    "admin.unlock": ("解锁", "Unlock"),
    "admin.create": ("创建", "Create"),
    "admin.save": ("保存", "Save"),
    "admin.new_user": ("新建账户", "New account"),
    "admin.new_key": ("新建接口密钥", "New API key"),
    "admin.key_name": ("密钥用途名称", "Key name"),
    "admin.key_prefix": ("密钥前缀", "Key prefix"),
    "admin.key_once": (
        "新密钥只显示这一次，请立即复制交给对方系统：",
        "The new key is shown once only:",
    ),
    "admin.granted_at": ("授权时间", "Granted"),
    "admin.expires_at": ("到期", "Expires"),
    "admin.last_used": ("最近使用", "Last used"),
    "admin.decided_by": ("审批人", "Decided by"),
    "admin.decided_at": ("审批时间", "Decided"),
    "audit.user": ("账户", "Account"),
    "audit.event": ("事件", "Event"),
    "usage.month": ("月份", "Month"),
    "usage.prev": ("上月", "Previous month"),
    "usage.consumer_rate": ("用户使用率", "Consumer usage rate"),
    "usage.dataset_rate": ("数据集使用率", "Dataset usage rate"),
    "usage.definition": (
        "用户使用率 = 当月有使用记录的共享单位数 ÷ 已开通账户的共享单位数；数据集使用率 = 当月被使用的共享数据集数 ÷ 共享目录中可共享的数据集数。本办人员的使用不计入。",
        "Consumer rate = partner agencies that used the service this month / partner agencies "
        "with accounts; dataset rate = shared datasets used / datasets shared. Office staff excluded.",
    ),
    "usage.trend": ("月度趋势", "Trend by month"),
    "usage.ranking": ("单位使用排名", "Ranking of agencies"),
    "usage.by_dataset": ("按数据集", "By dataset"),
    "usage.by_district": ("按区", "By district"),
    "usage.requests": ("请求次数", "Requests"),
    "usage.rows": ("交付行数", "Rows delivered"),
    "usage.active": ("活跃单位", "Active agencies"),
    "usage.consumers": ("使用单位数", "Agencies"),
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
    "profile.penetrated": ("穿透后来源地", "Origins after penetration"),
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
    "data.decide": ("复核", "Review"),
    "data.accept": ("接受", "Accept"),
    "data.reject": ("拒绝", "Reject"),
    "data.decide_hint": (
        "接受：该记录计入此企业，同一记录的其他候选关联随之拒绝；拒绝：此对不再提出，记录另行关联。"
        "决定记入审计日志，受影响企业的统计数据随即更新。",
        "Accept: the record counts for this enterprise and its other candidate links are "
        "rejected; reject: the pair is never proposed again and the record is linked afresh. "
        "Decisions are audited and the affected enterprises' figures are refreshed.",
    ),
    "data.link": ("关联", "Link"),
    "data.link_job": ("关联复核", "Link review"),
    "data.status_accepted": ("接受", "accepted"),
    "data.status_rejected": ("拒绝", "rejected"),
    "data.status_review": ("待审核", "in review"),
    "data.status_auto": ("自动", "automatic"),
    "data.unchanged": ("未改变", "unchanged"),
    "data.link_accepted": (
        "已接受关联 {link}：记录 {record} → 企业 {enterprise}",
        "Link {link} accepted: record {record} → enterprise {enterprise}",
    ),
    "data.link_rejected": (
        "已拒绝关联 {link}：记录 {record} → 企业 {enterprise}",
        "Link {link} rejected: record {record} → enterprise {enterprise}",
    ),
    "data.link_others": (
        "；同一记录的其他 {n} 个候选已拒绝。",
        "; the record's other {n} candidate link(s) were rejected.",
    ),
    "data.link_unchanged": (
        "关联 {link} 已是「{status}」，未改变。",
        "Link {link} was already {status}: unchanged.",
    ),
    "data.link_queued": (
        "关联 {link} 的决定已提交（任务 {job}），完成后刷新本页查看。",
        "The decision on link {link} is queued (job {job}); reload this page to see it.",
    ),
    "data.link_failed": (
        "关联 {link} 的决定未执行：{message}",
        "The decision on link {link} was not made: {message}",
    ),
    "data.link_missing": (
        "关联 {link} 不存在（可能已被撤销或重新关联）。",
        "Link {link} does not exist (it may have been rolled back or relinked).",
    ),
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
