"""``crossinvest grants``: conditional sharing from the command line.

crossinvest grants list [--user U] [--active] [--json]
crossinvest grants add USERNAME DATASET --purpose P [--days 90]
crossinvest grants revoke GRANT_ID
crossinvest grants requests [--status pending] [--json]
crossinvest grants decide REQUEST_ID (--approve | --reject) --reason R [--days N]

The command line runs with the operator's full rights (contract.md); every
change is written to the audit log (via ``cli``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crossinvest.access.cli_users import JsonOption, _audit, _fail, _print_json, _store, _table

grants_app = typer.Typer(
    help="有条件共享的授权与申请 / Grants and requests for conditional data.",
    no_args_is_help=True,
)


def _user_id(con: Any, username: str) -> int:
    from crossinvest.access.accounts import get_user

    user = get_user(con, username)
    if user is None:
        raise _fail(f"没有账户 {username}：先用 crossinvest users add 开设")
    return user.id


@grants_app.command("list")
def list_(
    user: Annotated[str | None, typer.Option(help="只看该账户 / one account")] = None,
    active: Annotated[bool, typer.Option("--active", help="只看有效授权 / in force")] = False,
    as_json: JsonOption = False,
) -> None:
    """列出授权 / List grants."""
    from crossinvest.access.grants import list_grants

    con = _store()
    rows = list_grants(con, user_id=_user_id(con, user) if user else None, active_only=active)
    if as_json:
        _print_json(rows)
        return
    _table(
        "授权 / grants",
        ["编号", "账户", "单位", "数据集", "用途", "授权时间", "到期", "有效"],
        [
            [g["id"], g["username"], g["org"] or "", g["dataset"], g["purpose"] or "",
             g["granted_at"], g["expires_at"], "是" if g["active"] else "否"]
            for g in rows
        ],
    )  # fmt: skip


@grants_app.command("add")
def add(
    username: str,
    dataset: str,
    purpose: Annotated[str, typer.Option(help="用途 / purpose")],
    days: Annotated[int, typer.Option(help="期限（天）/ days")] = 90,
) -> None:
    """直接授权（无需申请）/ Grant a dataset directly."""
    from crossinvest.access.grants import GrantError, grant

    con = _store()
    try:
        gid = grant(con, _user_id(con, username), dataset, by=None, purpose=purpose, days=days)
    except GrantError as e:
        raise _fail(e.message) from e
    _audit(con, action="grant", target=username, dataset=dataset, grant=gid, days=days)
    typer.echo(f"已授权 {username} 使用 {dataset}，{days} 天（授权编号 {gid}）")


@grants_app.command("revoke")
def revoke(grant_id: int) -> None:
    """收回授权 / End a grant now."""
    from crossinvest.access.grants import GrantError
    from crossinvest.access.grants import revoke as revoke_

    con = _store()
    try:
        revoke_(con, grant_id)
    except GrantError as e:
        raise _fail(e.message) from e
    _audit(con, action="revoke", grant=grant_id)
    typer.echo(f"授权 {grant_id} 已收回")


@grants_app.command("requests")
def requests(
    status: Annotated[str | None, typer.Option(help="pending | approved | rejected")] = "pending",
    as_json: JsonOption = False,
) -> None:
    """列出申请 / List access requests (default: pending)."""
    from crossinvest.access.grants import list_requests

    rows = list_requests(_store(), status=status or None)
    if as_json:
        _print_json(rows)
        return
    _table(
        "申请 / requests",
        ["编号", "账户", "单位", "数据集", "用途", "天数", "状态", "申请时间", "理由"],
        [
            [r["id"], r["username"], r["org"] or "", r["dataset"], r["purpose"], r["days"],
             r["status"], r["requested_at"], r["reason"] or ""]
            for r in rows
        ],
    )  # fmt: skip


@grants_app.command("decide")
def decide(
    request_id: int,
    reason: Annotated[str, typer.Option(help="审批理由 / reason")],
    approve: Annotated[bool, typer.Option("--approve/--reject", help="批准或驳回")] = True,
    days: Annotated[int | None, typer.Option(help="授权天数（默认按申请）")] = None,
) -> None:
    """审批申请 / Approve or reject a request."""
    from crossinvest.access.grants import GrantError
    from crossinvest.access.grants import decide as decide_

    con = _store()
    try:
        req = decide_(con, request_id, approver_id=None, approve=approve, reason=reason, days=days)
    except GrantError as e:
        raise _fail(e.message) from e
    _audit(con, action="decide", request=request_id, approved=approve, reason=reason)
    typer.echo(
        f"申请 {request_id}（{req['username']} · {req['dataset']}）已{'批准' if approve else '驳回'}"
    )
