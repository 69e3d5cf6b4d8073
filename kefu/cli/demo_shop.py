"""``kefu demo-shop serve|reset``: hands the command line over to the demo shop.

The shop is its own project (``examples/demo-shop``, package ``kefu_demo_shop``, command
``kefu-demo-shop``) and kefu never needs it: it is imported only when this command runs.
"""

from __future__ import annotations

import typer
from rich.console import Console

__all__ = ["NOT_INSTALLED", "demo_shop"]

NOT_INSTALLED = (
    "演示商店未安装，请在 kefu 仓库根目录运行：pip install -e examples/demo-shop\n"
    "the demo shop is not installed; from kefu's repository root run: "
    "pip install -e examples/demo-shop"
)

err = Console(stderr=True, soft_wrap=True)


def demo_shop(ctx: typer.Context) -> None:
    """The demo shop 小铺优选 (serve, reset): orders, bills and membership for the demo's tools."""
    try:
        from kefu_demo_shop.cli import shop_app
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "kefu_demo_shop":
            raise  # the shop is there but one of its own dependencies is not
        err.print(NOT_INSTALLED, highlight=False, markup=False)
        raise typer.Exit(2) from None
    shop_app(args=ctx.args, prog_name="kefu demo-shop")
