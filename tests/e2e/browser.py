"""What the browser tests share: Debian's chromium, and checks of what a person sees on the
page (visible or hidden, on screen, not overlapping, readable, in the chosen language)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FloatRect, Locator, Page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without these, chromium tries to reach Google's hosts at start and this machine refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

DESKTOP = {"width": 1280, "height": 800}


@contextmanager
def browser_page(browser: Browser, **options: Any) -> Iterator[Page]:
    """A page in a fresh context of ``browser`` (its own storage; a desktop window unless
    ``options`` say otherwise), closed when the block ends."""
    context = browser.new_context(**{"viewport": DESKTOP, **options})
    try:
        yield context.new_page()
    finally:
        context.close()


# Chinese characters and punctuation (，：。 and the like); not ＋, the new-chat icon.
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uff0a\uff0c-\uffef]")
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
# WCAG AA for body text; the muted grey of secondary text must meet it too.
MIN_CONTRAST = 4.5

# The text colour of an element against the colour actually behind it (its own background
# or the first ancestor's that is not transparent, blended over white), as WCAG measures it.
_READABILITY_JS = """
(node) => {
  // rgb()/rgba() as most computed colours read; any other form Chromium may serialise
  // (color(srgb …), oklab(…) while a transition runs) through a canvas pixel.
  const pixel = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
  const parse = (c) => {
    const m = c.match(/^rgba?\\(([^)]+)\\)$/);
    if (m) {
      const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    pixel.clearRect(0, 0, 1, 1);
    pixel.fillStyle = c;
    pixel.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = pixel.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat([1]);
  };
  const layers = [];
  for (let n = node; n; n = n.parentElement) {
    const c = parse(getComputedStyle(n).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let background = [255, 255, 255, 1];
  for (let i = layers.length - 1; i >= 0; i--) background = over(layers[i], background);
  const style = getComputedStyle(node);
  const colour = parse(style.color);
  const text = over(colour, background);
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [lum(text), lum(background)].sort((x, y) => y - x);
  return {
    text: (node.innerText || node.value || node.placeholder || '').trim(),
    alpha: colour[3], contrast: (hi + 0.05) / (lo + 0.05),
    fontSize: parseFloat(style.fontSize), visibility: style.visibility,
    opacity: parseFloat(style.opacity),
  };
}
"""


def box(locator: Locator) -> FloatRect:
    """The element's box on the page; it must be rendered."""
    rect = locator.bounding_box()
    assert rect is not None, f"{locator} is not rendered"
    assert rect["width"] > 0 and rect["height"] > 0, f"{locator} has no size: {rect}"
    return rect


def assert_on_screen(page: Page, locator: Locator) -> None:
    """Wholly inside the viewport: nothing cut off, no scrolling needed to see it."""
    rect = box(locator)
    size = page.viewport_size
    assert size is not None
    assert rect["x"] >= -0.5 and rect["y"] >= -0.5, f"{locator} starts off screen: {rect}"
    assert rect["x"] + rect["width"] <= size["width"] + 0.5, f"{locator} too wide: {rect}"
    assert rect["y"] + rect["height"] <= size["height"] + 0.5, f"{locator} too low: {rect}"


def assert_apart(first: Locator, second: Locator) -> None:
    """The two boxes do not overlap (touching edges is fine)."""
    a, b = box(first), box(second)
    overlap_x = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    overlap_y = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    assert overlap_x <= 0.5 or overlap_y <= 0.5, f"{first} {a} overlaps {second} {b}"


def assert_no_page_scroll(page: Page) -> None:
    """The page fits the window: no scroll bars on the page itself."""
    overflow = page.evaluate(
        "() => { const s = document.scrollingElement;"
        " return [s.scrollWidth - innerWidth, s.scrollHeight - innerHeight]; }"
    )
    assert overflow[0] <= 0 and overflow[1] <= 0, f"the page scrolls by {overflow}"


def readable_text(locator: Locator) -> str:
    """The element's text, after checking a person can read it: visible, not empty, not
    transparent, and with enough contrast against what is behind it."""
    assert locator.is_visible(), f"{locator} is not visible"
    seen: dict[str, Any] = locator.evaluate(_READABILITY_JS)
    assert seen["text"], f"{locator} shows no text"
    assert seen["visibility"] == "visible" and seen["opacity"] > 0.9, f"{locator}: {seen}"
    assert seen["alpha"] > 0.9, f"{locator} text is (partly) transparent: {seen}"
    assert seen["fontSize"] >= 11, f"{locator} text is too small: {seen}"
    assert seen["contrast"] >= MIN_CONTRAST, f"{locator} has too little contrast: {seen}"
    return str(seen["text"])


def assert_all_readable(page: Page, selector: str) -> list[str]:
    """Every visible element matching ``selector`` is readable; returns their texts."""
    texts = []
    items = page.locator(selector)
    for index in range(items.count()):
        item = items.nth(index)
        if item.is_visible():
            texts.append(readable_text(item))
    assert texts, f"nothing visible matches {selector}"
    return texts


def assert_language(texts: list[str], language: str) -> None:
    """UI strings are in the chosen language: Chinese ones hold Chinese characters and no
    English words; English ones hold no Chinese characters."""
    for text in texts:
        if language == "zh":
            assert CJK.search(text), f"not Chinese in the Chinese UI: {text!r}"
            assert not ENGLISH_WORD.search(text), f"English in the Chinese UI: {text!r}"
        else:
            assert not CJK.search(text), f"Chinese in the English UI: {text!r}"


def page_user(page: Page) -> str:
    """The visitor id of the page's session (kefu generated and signed it; the page keeps the
    session token in localStorage)."""
    import jwt

    token = page.evaluate("() => localStorage.getItem('kefu.web.session')")
    assert isinstance(token, str), "the page holds no session"
    user = jwt.decode(token, options={"verify_signature": False})["sub"]
    assert isinstance(user, str) and user.startswith("web-")
    return user
