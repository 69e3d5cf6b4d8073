"""``python -m kefu_demo_shop serve|reset``: the same as the ``kefu-demo-shop`` command."""

from kefu_demo_shop.cli import main

main()
