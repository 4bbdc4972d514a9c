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
            table.add_row(str(r.batch), r.source, r.file, str(r.rows_read), str(r.rows_loaded),
                          str(r.rows_rejected), "是" if r.duplicate_file else "")
        console.print(table)
        _print_summary(wh)
    if serve:
        try:
            from crossinvest.web.server import serve as serve_web
        except ImportError:
            console.print("（网页服务尚未安装 / web server not available）")
            return
        console.print(f"[bold green]打开 http://{host}:{port}/ [/bold green]（本机访问无需登录）")
        serve_web(home=home, host=host, port=port)


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
        t.add_row(str(r.get("origin_province_name")), str(r.get("enterprises")),
                  f"{r.get('investment_wan') or 0:,.1f}", f"{r.get('tax_wan') or 0:,.1f}")
    console.print(t)
