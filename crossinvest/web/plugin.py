"""The web application as a plugin: ``crossinvest serve`` and the built-in pages.

The pages and API register through ``register_routes`` like any extension's.
"""

from __future__ import annotations

from typing import Annotated, Any

# Module level: Typer evaluates the string annotations of the command below
# in this module's globals.
import typer

from crossinvest.hooks import hookimpl


@hookimpl
def register_routes(app: Any) -> None:
    import crossinvest.web.datasets  # noqa: F401  (registers the datasets with the gate)
    from crossinvest.web.views import (
        api_data,
        api_enterprises,
        api_stats,
        data,
        definitions,
        enterprises,
        inbound,
        meta,
        outbound,
        overview,
    )

    for module in (
        api_stats,
        api_enterprises,
        api_data,
        meta,
        definitions,
        overview,
        inbound,
        outbound,
        enterprises,
        data,
    ):
        app.include_router(module.router)


@hookimpl
def register_commands(app: Any) -> None:

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="监听地址 / address to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
    ) -> None:
        """启动网页与接口服务 / Serve the web pages and the JSON API."""
        from crossinvest.warehouse.connection import WarehouseBusy
        from crossinvest.web.server import UnsafeSettings
        from crossinvest.web.server import serve as run

        def ready(info: dict) -> None:
            typer.echo(
                f"crossinvest 已启动：{info['url']}/ （API 文档 {info['url']}/api/docs；Ctrl+C 停止）"
            )

        try:
            run(host=host, port=port, on_ready=ready)
        except (WarehouseBusy, UnsafeSettings) as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(2) from e
        except OSError as e:
            typer.echo(f"无法监听 {host}:{port}：{e.strerror or e}", err=True)
            raise typer.Exit(2) from e
