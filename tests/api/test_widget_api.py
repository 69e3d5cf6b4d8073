"""What the embeddable widget needs from the server: ``/widget.js`` itself (type, caching, the
CSS inlined), its theme in the app file (validated) and in ``/web/config``, and every
endpoint it calls reachable cross-origin from an allowed site with a page session — and
refused from any other site."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from kefu.appfile.app_config import parse_app_config
from kefu.appfile.widget_config import WidgetConfig, readable_text_colour
from kefu.core.errors import ConfigError
from kefu.services.runtime import Runtime
from tests.conftest import FIXTURES, make_settings
from tests.servers import in_process_client

TINY = FIXTURES / "apps" / "tiny"
SHOP = "https://shop.example"
EVIL = "https://evil.example"
WIDGET = (
    '{color: "#FFD400", position: bottom-left, logo: "https://shop.example/logo.png", '
    'greeting: "Hi there", launcher_text: {zh: 问问我们, en: Ask us}}'
)


@pytest.fixture
def widget_runtime(tmp_path: Path) -> Iterator[Runtime]:
    (tmp_path / "shop.yaml").write_text(
        f'name: shop\nlanguage: en\nknowledge: {{faq: ["{TINY / "faq.jsonl"}"]}}\n'
        f'web: {{public: true, allowed_origins: ["{SHOP}"], widget: {WIDGET}}}\n',
        encoding="utf-8",
    )
    runtime = Runtime.build(
        make_settings(tmp_path / "data", ip_burst=1000), [tmp_path / "shop.yaml"]
    )
    yield runtime
    runtime.close()


@pytest.fixture
async def http(widget_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(widget_runtime, raise_app_exceptions=True) as client:
        yield client


async def test_widget_js_is_a_cacheable_script_with_its_css_inside(
    http: httpx.AsyncClient,
) -> None:
    reply = await http.get("/widget.js")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/javascript; charset=utf-8"
    assert reply.headers["cache-control"].startswith("public, max-age=300")
    assert reply.headers["cross-origin-resource-policy"] == "cross-origin"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in reply.headers  # a script, not a page
    assert "KEFU_WIDGET_CSS" not in reply.text and ":host {" in reply.text
    assert reply.headers["content-encoding"] == "gzip"  # httpx asks for it, and unpacks it
    plain = await http.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == reply.content
    assert int(reply.headers["content-length"]) < len(plain.content) / 3
    etag = reply.headers["etag"]
    again = await http.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    changed = await http.get("/widget.js", headers={"If-None-Match": '"stale"'})
    assert changed.status_code == 200


async def test_web_config_gives_the_theme_and_whether_the_site_may_embed_it(
    http: httpx.AsyncClient,
) -> None:
    from_shop = await http.get("/web/config?app=shop", headers={"Origin": SHOP})
    assert from_shop.headers["access-control-allow-origin"] == SHOP
    config = from_shop.json()
    assert config["origin_allowed"] is True
    assert config["widget"] == {
        "color": "#ffd400",
        "text_color": "#111111",  # dark text on a light yellow
        "logo": "https://shop.example/logo.png",
        "position": "bottom-left",
        "greeting": {"zh": "Hi there", "en": "Hi there"},
        "launcher_text": {"zh": "问问我们", "en": "Ask us"},
    }
    elsewhere = await http.get("/web/config?app=shop", headers={"Origin": EVIL})
    assert elsewhere.headers["access-control-allow-origin"] == "*"  # public, readable
    assert elsewhere.json()["origin_allowed"] is False
    own_page = await http.get("/web/config?app=shop")
    assert own_page.json()["origin_allowed"] is True


# Every call the widget makes with its session (docs/channels.md, "Web widget").
WIDGET_CALLS = [
    ("POST", "/web/session"),
    ("GET", "/v1/parameters"),
    ("POST", "/v1/chat-messages"),
    ("POST", "/v1/chat-messages/task-1/stop"),
    ("GET", "/v1/messages"),
    ("POST", "/v1/messages/m-1/feedbacks"),
    ("GET", "/v1/conversations/c-1/events"),
    ("POST", "/v1/conversations/c-1/csat"),
    ("POST", "/web/events"),
    ("POST", "/web/offers/o-1/accept"),
    ("POST", "/web/offers/o-1/dismiss"),
    ("POST", "/web/events/opt-out"),
]


@pytest.mark.parametrize(("method", "path"), WIDGET_CALLS)
async def test_every_widget_call_passes_the_preflight_of_an_allowed_site_only(
    http: httpx.AsyncClient, method: str, path: str
) -> None:
    def preflight(origin: str) -> dict[str, str]:
        return {
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type",
        }

    allowed = await http.options(path, headers=preflight(SHOP))
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == SHOP
    assert method in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    refused = await http.options(path, headers=preflight(EVIL))
    assert "access-control-allow-origin" not in refused.headers


async def test_a_session_works_from_the_allowed_site_and_not_from_another(
    http: httpx.AsyncClient,
) -> None:
    opened = await http.post("/web/session", json={"app": "shop"}, headers={"Origin": SHOP})
    assert opened.status_code == 200
    assert opened.headers["access-control-allow-origin"] == SHOP
    token = opened.json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    chat = await http.post(
        "/v1/chat-messages",
        json={"query": "When are you open?", "response_mode": "streaming"},
        headers={**bearer, "Origin": SHOP},
    )
    assert chat.status_code == 200 and chat.headers["content-type"].startswith("text/event-stream")
    assert chat.headers["access-control-allow-origin"] == SHOP
    stolen = await http.get("/v1/parameters", headers={**bearer, "Origin": EVIL})
    assert stolen.status_code == 403
    refused = await http.post("/web/session", json={"app": "shop"}, headers={"Origin": EVIL})
    assert refused.status_code == 403


def widget(**fields: object) -> WidgetConfig:
    return WidgetConfig.model_validate(fields)


def test_the_theme_is_validated() -> None:
    assert widget(color="#ABC").color == "#abc"
    assert widget(logo="/static/logo.png").logo == "/static/logo.png"
    assert widget(greeting="Hello").greeting is not None
    for bad in ({"color": "blue"}, {"color": "#12345"}, {"position": "top-left"}):
        with pytest.raises(ValueError):
            widget(**bad)
    for url in ("javascript:alert(1)", "//evil.example/x.png", "data:image/png;base64,AA", "a b"):
        with pytest.raises(ValueError, match="URL"):
            widget(logo=url)


def test_an_unquoted_colour_is_explained() -> None:
    """``color: #0b6e4f`` in YAML is a comment: the error says to quote it."""
    with pytest.raises(ConfigError) as caught:
        parse_app_config({"name": "shop", "web": {"widget": {"color": None}}}, file="shop.yaml")
    assert caught.value.key == "web.widget.color"
    assert "quotes" in caught.value.message


@pytest.mark.parametrize(
    ("background", "text"),
    [("#1f5fbf", "#ffffff"), ("#0b6e4f", "#ffffff"), ("#ffd400", "#111111"), ("#fff", "#111111")],
)
def test_the_launcher_text_is_readable_on_any_colour(background: str, text: str) -> None:
    assert readable_text_colour(background) == text
