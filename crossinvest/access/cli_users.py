"""``crossinvest users`` and ``crossinvest keys``: accounts and API keys from the command line.

crossinvest users add USERNAME --role R [--name N] [--org O] [--district CODE …] [--password-stdin]
crossinvest users list [--json]
crossinvest users set USERNAME [--role R] [--name N] [--org O] [--district CODE …] [--disable|--enable]
crossinvest users passwd USERNAME [--password-stdin]
crossinvest users unlock USERNAME
crossinvest keys add USERNAME --name N --dataset D … [--days 90]
crossinvest keys list [--user U] [--json]
crossinvest keys revoke ID_OR_PREFIX

The command line runs with the operator's full rights (contract.md). Each change
is written to the audit log (``access.audit.record``, event ``admin``, via
``cli``) when that module is present.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from typing import Annotated, Any

import typer

users_app = typer.Typer(
    help="用户账户管理 / Manage user accounts of the sharing service.", no_args_is_help=True
)
keys_app = typer.Typer(
    help="接口密钥管理 / Manage API keys of partner systems.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]
RoleHelp = "admin | analyst | district | agency | api"
DistrictOption = Annotated[
    list[str] | None,
    typer.Option("--district", help="区代码，可重复 / district code, repeatable (e.g. 310115)"),
]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="从标准输入读取密码 / read the password from stdin")
]


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, default=str))


def _fail(message: str) -> typer.Exit:
    typer.echo(message.replace("\n", " "), err=True)
    return typer.Exit(2)


def _store() -> sqlite3.Connection:
    from crossinvest.access.store import open_store
    from crossinvest.config import current_home

    return open_store(current_home())


def _audit(con: sqlite3.Connection, **detail: Any) -> None:
    """An ``admin`` audit row for a change made here, if the audit log exists."""
    try:
        from crossinvest.access.audit import record
    except ImportError:
        return
    import getpass

    # the operating-system account that ran the command: who made the change
    record(con, "admin", username=f"cli:{getpass.getuser()}", via="cli", detail=detail)


def _password(stdin: bool) -> str:
    if stdin:
        line = sys.stdin.readline()
        if not line:
            raise _fail("标准输入没有读到密码：用 echo '…' | crossinvest users … --password-stdin")
        return line.rstrip("\r\n")
    return typer.prompt("密码 / password", hide_input=True, confirmation_prompt="再输一次 / repeat")


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, overflow="fold")  # wrap times, do not cut them
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    Console().print(table)


def _user_line(user: Any) -> str:
    where = f"，区 {','.join(user.districts)}" if user.districts else ""
    org = f"，{user.org}" if user.org else ""
    return f"{user.username}（{user.display_name}，{user.role}{org}{where}）"


# --- users -----------------------------------------------------------------------


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    role: Annotated[str, typer.Option("--role", help=RoleHelp)],
    name: Annotated[str | None, typer.Option("--name", help="显示名称 / display name")] = None,
    org: Annotated[str | None, typer.Option("--org", help="所属单位 / organisation")] = None,
    district: DistrictOption = None,
    password_stdin: StdinOption = False,
    json_: JsonOption = False,
) -> None:
    """新建用户 / Create an account (api accounts have no password)."""
    from crossinvest.access.accounts import (
        AccountError,
        check_districts,
        check_username,
        create_user,
    )

    try:  # refuse a bad name or role before asking for a password
        check_username(username)
        check_districts(role, district)
    except AccountError as e:
        raise _fail(e.message) from e
    password = None if role == "api" and not password_stdin else _password(password_stdin)
    con = _store()
    try:
        user = create_user(
            con,
            username,
            role=role,
            password=password,
            display_name=name,
            org=org,
            districts=district,
        )
        _audit(
            con, action="user_add", target=user.username, role=user.role, districts=user.districts
        )
    except AccountError as e:
        raise _fail(e.message) from e
    finally:
        con.close()
    if json_:
        _print_json(user.as_json())
    else:
        typer.echo(f"已新建用户 {_user_line(user)}")


@users_app.command("list")
def users_list(json_: JsonOption = False) -> None:
    """列出用户 / List accounts."""
    from crossinvest.access.accounts import list_users

    con = _store()
    try:
        users = list_users(con)
    finally:
        con.close()
    if json_:
        _print_json([u.as_json() for u in users])
        return
    cols = ["id", "用户名", "名称", "角色", "单位", "区", "状态", "最近登录"]
    rows = [
        [
            u.id,
            u.username,
            u.display_name,
            u.role,
            u.org,
            ",".join(u.districts or ()),
            "停用" if u.disabled else ("锁定至 " + u.locked_until if u.locked_until else "正常"),
            u.last_login_at,
        ]
        for u in users
    ]
    _table("用户 / users", cols, rows)


@users_app.command("set")
def users_set(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    role: Annotated[str | None, typer.Option("--role", help=RoleHelp)] = None,
    name: Annotated[str | None, typer.Option("--name", help="显示名称 / display name")] = None,
    org: Annotated[
        str | None, typer.Option("--org", help="所属单位，空串清除 / organisation ('' clears)")
    ] = None,
    district: DistrictOption = None,
    disable: Annotated[
        bool | None, typer.Option("--disable/--enable", help="停用或启用 / disable or enable")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """修改用户 / Change an account's role, name, organisation, districts or status."""
    from crossinvest.access.accounts import UNSET, AccountError, update_user

    changes: dict[str, Any] = {
        "role": UNSET if role is None else role,
        "display_name": UNSET if name is None else name,
        "org": UNSET if org is None else org,
        "districts": district if district else UNSET,
        "disabled": UNSET if disable is None else disable,
    }
    given = {k: v for k, v in changes.items() if v is not UNSET}
    if not given:
        raise _fail(
            "没有要修改的内容：给出 --role、--name、--org、--district、--disable 或 --enable"
        )
    con = _store()
    try:
        user = update_user(con, username, **changes)
        _audit(con, action="user_set", target=user.username, changes=given)
    except AccountError as e:
        raise _fail(e.message) from e
    finally:
        con.close()
    if json_:
        _print_json(user.as_json())
    else:
        state = "（已停用，会话已结束）" if user.disabled else ""
        typer.echo(f"已修改用户 {_user_line(user)}{state}")


@users_app.command("passwd")
def users_passwd(
    username: Annotated[str, typer.Argument(help="用户名 / username")],
    password_stdin: StdinOption = False,
) -> None:
    """设置新密码 / Set a new password (ends the account's sessions)."""
    from crossinvest.access.accounts import AccountError, get_user, set_password

    con = _store()
    try:
        if get_user(con, username) is None:  # before the prompt, not after it
            raise _fail(f"没有用户「{username}」：用 crossinvest users list 查看现有用户")
        password = _password(password_stdin)
        set_password(con, username, password)
        _audit(con, action="user_passwd", target=username)
    except AccountError as e:
        raise _fail(e.message) from e
    finally:
        con.close()
    typer.echo(f"已为 {username} 设置新密码，其所有会话已结束。")


@users_app.command("unlock")
def users_unlock(username: Annotated[str, typer.Argument(help="用户名 / username")]) -> None:
    """解除锁定 / Clear failed sign-ins and the lock."""
    from crossinvest.access.accounts import AccountError, unlock_user

    con = _store()
    try:
        user = unlock_user(con, username)
        _audit(con, action="user_unlock", target=user.username)
    except AccountError as e:
        raise _fail(e.message) from e
    finally:
        con.close()
    typer.echo(f"已解除 {user.username} 的锁定。")


# --- keys ------------------------------------------------------------------------


@keys_app.command("add")
def keys_add(
    username: Annotated[str, typer.Argument(help="密钥所属用户 / owner")],
    name: Annotated[str, typer.Option("--name", help="用途或系统名称 / what the key is for")],
    dataset: Annotated[
        list[str], typer.Option("--dataset", help="可用数据集，可重复 / dataset, repeatable")
    ],
    days: Annotated[int, typer.Option("--days", help="有效天数 / days valid")] = 90,
    json_: JsonOption = False,
) -> None:
    """签发接口密钥（只显示一次）/ Issue an API key (shown this once only)."""
    from crossinvest.access.accounts import AccountError
    from crossinvest.access.keys import create_key

    con = _store()
    try:
        plaintext, key = create_key(con, username, name=name, datasets=dataset, days=days)
        _audit(
            con,
            action="key_add",
            target=key.username,
            key_id=key.id,
            prefix=key.prefix,
            datasets=list(key.datasets),
            expires_at=key.expires_at,
        )
    except AccountError as e:
        raise _fail(e.message) from e
    finally:
        con.close()
    warning = "请立即妥善保存：密钥只显示这一次，系统不保存原文，遗失只能吊销后重新签发。"
    if json_:
        _print_json({**key.as_json(), "key": plaintext, "warning": warning})
        return
    typer.echo(plaintext)
    typer.echo(
        f"已为 {key.username} 签发密钥 {key.id}（前缀 {key.prefix}，数据集 "
        f"{'、'.join(key.datasets)}，{key.expires_at} 到期）。",
        err=True,
    )
    typer.echo(warning, err=True)


@keys_app.command("list")
def keys_list(
    user: Annotated[str | None, typer.Option("--user", help="只看此用户 / only this user")] = None,
    json_: JsonOption = False,
) -> None:
    """列出接口密钥（不含密钥原文）/ List API keys (never the keys themselves)."""
    from crossinvest.access.accounts import AccountError
    from crossinvest.access.keys import list_keys

    con = _store()
    try:
        keys = list_keys(con, user)
    except AccountError as e:
        raise _fail(e.message) from e
    finally:
        con.close()
    if json_:
        _print_json([k.as_json() for k in keys])
        return
    names = {"active": "有效", "expired": "已过期", "revoked": "已吊销"}
    cols = ["id", "前缀", "用户", "名称", "数据集", "签发", "到期", "状态", "最近使用"]
    rows = [
        [
            k.id,
            k.prefix,
            k.username,
            k.name,
            ",".join(k.datasets),
            k.created_at,
            k.expires_at,
            names[k.status()],
            k.last_used_at,
        ]
        for k in keys
    ]
    _table("接口密钥 / API keys", cols, rows)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="密钥编号或前缀 / key id or prefix")],
    json_: JsonOption = False,
) -> None:
    """吊销接口密钥 / Revoke an API key."""
    from crossinvest.access.accounts import AccountError
    from crossinvest.access.keys import revoke_key

    con = _store()
    try:
        revoked = revoke_key(con, key)
        _audit(
            con,
            action="key_revoke",
            target=revoked.username,
            key_id=revoked.id,
            prefix=revoked.prefix,
        )
    except AccountError as e:
        raise _fail(e.message) from e
    finally:
        con.close()
    if json_:
        _print_json(revoked.as_json())
    else:
        typer.echo(
            f"已吊销密钥 {revoked.id}（前缀 {revoked.prefix}，{revoked.username}，{revoked.revoked_at}）。"
        )
