"""Two origins for the widget's browser tests: a kefu server (the demo app, made embeddable on
one shop origin, with a widget theme) and the shop's own tiny web server, whose pages paste
the one ``<script>`` tag. The shop is reachable as ``127.0.0.1`` (allowed) and as
``localhost`` (the same pages from an origin kefu does not allow)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.servers import free_port, spawn_until_healthy, stop_server

ADMIN_KEY = "admin-widget"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
DEMO_APP = Path(__file__).parents[2] / "apps" / "demo-shop.yaml"

THEME = {
    "color": "#0b6e4f",
    "position": "bottom-left",
    "logo": None,  # set to the shop's logo URL
    "launcher_text": {"zh": "咨询小铺", "en": "Ask XiaoPu"},
    "greeting": {"zh": "您好，我是小铺，有什么可以帮您？", "en": "Hi, I'm XiaoPu. How can I help?"},
}

# Everything a careless or hostile stylesheet on the host page might do to a widget.
HOSTILE_CSS = """
* { display: none !important; font-size: 2px !important; color: white !important;
    background: white !important; line-height: 0 !important; font-family: serif !important;
    letter-spacing: 9px !important; visibility: hidden; opacity: 0.2; }
html, body, main, p, #host-text, #host-button { display: block !important;
    visibility: visible !important; opacity: 1 !important; }
div { position: fixed !important; top: 0; left: 0; width: 10px !important; }
button { display: none !important; }
kefu-widget { font-size: 1px; color: transparent; }
:root { --kw-accent: white; --kw-text: white; }
"""

SHOP_CSS = """
body { margin: 0; font: 16px/1.4 Georgia, serif; color: #222; background: #fafafa; }
main { padding: 24px; }
#host-text { color: rgb(120, 20, 20); font-size: 18px; }
#host-button { padding: 4px 8px; }
"""


@dataclass(frozen=True)
class Sites:
    kefu: str  # http://127.0.0.1:K
    shop: str  # http://127.0.0.1:S (allowed)
    stranger: str  # http://localhost:S (the same pages, an origin kefu does not allow)


def page_html(kefu: str, shop: str, query: dict[str, list[str]]) -> str:
    """A shop page; ``?lang=`` sets data-lang, ``?hostile=1`` adds the hostile CSS and a
    strict Content-Security-Policy (no inline styles but its own), ``?widget=0`` leaves the
    script tag out (to compare the page with and without it), ``?early=1`` loads it
    synchronously and tracks an event at once."""
    lang = query.get("lang", [""])[0]
    hostile = query.get("hostile", ["0"])[0] == "1"
    widget = query.get("widget", ["1"])[0] == "1"
    policy = (
        f"default-src 'self'; script-src 'self' 'unsafe-inline' {kefu}; connect-src {kefu}; "
        f"style-src 'nonce-shop'; img-src {shop}"
    )
    csp = f'<meta http-equiv="Content-Security-Policy" content="{policy}">' if hostile else ""
    lang_attr = f' data-lang="{lang}"' if lang in ("zh", "en") else ""
    script = (
        f'<script src="{kefu}/widget.js" data-app="demo-shop"{lang_attr} async></script>'
        if widget
        else ""
    )
    if query.get("early", ["0"])[0] == "1":  # the page tracks an event before kefu answers
        script = (
            f'<script src="{kefu}/widget.js" data-app="demo-shop"{lang_attr}></script>'
            "<script>kefu.track('coupon', {code: 'WELCOME'});</script>"
        )
    return f"""<!doctype html>
<html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{csp}
<title>XiaoPu shop</title>
<style nonce="shop">{SHOP_CSS}{HOSTILE_CSS if hostile else ""}</style></head>
<body><main>
<p id="host-text">Welcome to the shop.</p>
<button id="host-button" type="button"
  onclick="history.pushState({{}}, '', '/refund'); document.title = 'Refunds';">Refunds</button>
</main>
{script}
</body></html>"""


LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#0b6e4f"/></svg>'
)


class _ShopHandler(BaseHTTPRequestHandler):
    kefu = ""
    shop = ""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/logo.svg":
            body, kind = LOGO.encode(), "image/svg+xml"
        else:  # every other path is the shop page (an SPA: /refund too)
            page = page_html(self.kefu, self.shop, parse_qs(url.query))
            body, kind = page.encode(), "text/html"
        self.send_response(200)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def write_app(folder: Path, shop: str) -> Path:
    """The demo app, public on ``shop`` with the test theme; its knowledge is the demo's."""
    data = yaml.safe_load(DEMO_APP.read_text(encoding="utf-8"))
    data["web"] = {
        "public": True,
        "allowed_origins": [shop],
        "widget": {**THEME, "logo": f"{shop}/logo.svg"},
    }
    (folder / "demo-shop").symlink_to(DEMO_APP.parent / "demo-shop")
    app_file = folder / "demo-shop.yaml"
    app_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return app_file


@contextmanager
def widget_sites(folder: Path) -> Iterator[Sites]:
    """kefu and the shop, each on a free port, for the ``with`` block."""
    shop_port, kefu_port = free_port(), free_port()
    sites = Sites(
        kefu=f"http://127.0.0.1:{kefu_port}",
        shop=f"http://127.0.0.1:{shop_port}",
        stranger=f"http://localhost:{shop_port}",
    )
    app_file = write_app(folder, sites.shop)
    env = {**os.environ, "KEFU_ADMIN_KEY": ADMIN_KEY}
    command = [sys.executable, "-m", "kefu.cli.main", "serve", "--app", str(app_file)]
    kefu = spawn_until_healthy(
        [*command, "--port", str(kefu_port), "--data-dir", str(folder / "data")],
        env,
        folder / "kefu.log",
        f"{sites.kefu}/health",
    )
    handler = type("ShopHandler", (_ShopHandler,), {"kefu": sites.kefu, "shop": sites.shop})
    shop = ThreadingHTTPServer(("127.0.0.1", shop_port), handler)
    thread = threading.Thread(target=shop.serve_forever, daemon=True)
    thread.start()
    try:
        yield sites
    finally:
        shop.shutdown()
        shop.server_close()
        stop_server(kefu)
