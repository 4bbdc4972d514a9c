"""``crossinvest demo``: generate realistic deliveries, load them, summarise, serve."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from crossinvest.config import current_home
from crossinvest.progress import rich_progress

console = Console()

# Load order matters: the registry first, so shareholders, tax and stats find
# their enterprises; corrections after the deliveries they correct.
SOURCE_ORDER = ("registry", "shareholders", "tax", "stats")


def run_demo(*, enterprises: int, seed: int, serve: bool, host: str, port: int) -> None:
    from crossinvest.generate import generate
    from crossinvest.readers import FileRefused
    from crossinvest.warehouse.connection import connect
    from crossinvest.warehouse.load import load_file

    home = current_home().ensure()
    data_dir = home.root / "demo-data" / f"seed{seed}-n{enterprises}"
    console.print(f"[bold]演示数据目录[/bold] {data_dir}")
    with rich_progress() as progress:
        result = generate(data_dir, enterprises=enterprises, seed=seed, progress=progress)
    files = sorted(result.files, key=lambda f: SOURCE_ORDER.index(f.source))
    table = Table(title="载入结果 / loads")
    for col in ("批次", "来源", "文件", "读取", "载入", "隔离", "重复"):
        table.add_column(col)
    with connect(home) as wh:
        for f in files:
            try:
                with rich_progress() as progress:
                    r = load_file(wh, f.source, Path(f.path), progress=progress)
            except FileRefused as e:
                console.print(f"[red]{e}[/red]")
                continue
            table.add_row(
                str(r.batch),
                r.source,
                r.file,
                str(r.rows_read),
                str(r.rows_loaded),
                str(r.rows_rejected),
                "是" if r.duplicate_file else "",
            )
        console.print(table)
        _print_summary(wh)
    _demo_accounts(home)
    if serve:
        from crossinvest.web.server import serve as serve_web

        console.print(f"[bold green]打开 http://{host}:{port}/ [/bold green]（用上表账户登录）")
        serve_web(home=home, host=host, port=port)


# One account per role, so each view of the data can be tried: (username, role,
# display name, agency or office, districts).
DEMO_ACCOUNTS = (
    ("admin", "admin", "系统管理员", "市合作交流办", None),
    ("analyst", "analyst", "本办分析员", "市合作交流办", None),
    ("pudong", "district", "浦东新区投资办", "浦东新区投资办", ["310115"]),
    ("fgw", "agency", "市发展改革委", "市发展改革委", None),
)


def _demo_accounts(home) -> None:  # type: ignore[no-untyped-def]
    """Create the demo accounts that do not exist yet, with random passwords.

    The passwords are printed once and kept in ``demo-accounts.txt`` (mode 0600)
    in the home, never in the code: a demo home copied to a server stays closed.
    """
    import os
    import secrets

    from crossinvest.access.accounts import create_user, get_user
    from crossinvest.access.store import open_store

    con = open_store(home)
    table = Table(title="演示账户 / demo accounts")
    for col in ("用户名", "角色", "单位", "密码"):
        table.add_column(col)
    lines = []
    try:
        for username, role, name, org, districts in DEMO_ACCOUNTS:
            if get_user(con, username) is not None:
                continue
            password = "Demo-" + secrets.token_urlsafe(9)
            create_user(
                con,
                username,
                role=role,
                password=password,
                display_name=name,
                org=org,
                districts=districts,
            )
            table.add_row(username, role, org, password)
            lines.append(f"{username}\t{role}\t{password}")
    finally:
        con.close()
    if lines:
        path = home.root / "demo-accounts.txt"
        with open(path, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(path, 0o600)
        console.print(table)
        console.print(f"（密码另存于 {path}）")
    else:
        console.print(f"演示账户已存在，密码见 {home.root / 'demo-accounts.txt'}")


def _print_summary(wh) -> None:
    try:
        from crossinvest.analytics.query import stats
    except ImportError:
        return
    res = stats(wh.con, "inbound", "2018", ["origin_province"])
    t = Table(title=f"2018 年各地来沪投资（截至 {res.reference_date}）")
    for col in ("来源省份", "企业数", "投资额（万元）", "纳税（万元）"):
        t.add_column(col)
    for r in sorted(res.rows, key=lambda r: -(r.get("investment_wan") or 0))[:10]:
        t.add_row(
            str(r.get("origin_province_name")),
            str(r.get("enterprises")),
            f"{r.get('investment_wan') or 0:,.1f}",
            f"{r.get('tax_wan') or 0:,.1f}",
        )
    console.print(t)
