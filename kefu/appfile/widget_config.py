"""The ``web.widget`` section of an app file: how the embeddable chat widget looks.

The widget (``<script src="https://kefu.example/widget.js" data-app="…">``) reads these through
``GET /web/config``; see docs/channels.md.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from kefu.appfile._strict import Strict
from kefu.core.localized import LocalizedText, localize

__all__ = ["WidgetConfig", "readable_text_colour"]

_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_MAX_URL = 2000
WidgetPosition = Literal["bottom-right", "bottom-left"]


class WidgetConfig(Strict):
    """Theme of the widget: accent colour, logo, corner, greeting and launcher text."""

    color: str = Field(
        "#1f5fbf", description='accent colour, "#rrggbb" or "#rgb" (quote it in YAML)'
    )
    logo: str | None = Field(
        None, description="logo image URL (https://…, or a path on the kefu server: /static/…)"
    )
    position: WidgetPosition = Field("bottom-right", description="bottom-right or bottom-left")
    greeting: LocalizedText | None = Field(
        None, description="the window's first message (default: the app's opening_statement)"
    )
    launcher_text: LocalizedText | None = Field(
        None, description="text on the launcher button (default: 在线客服 / Chat with us)"
    )

    @field_validator("color", mode="before")
    @classmethod
    def _valid_colour(cls, value: Any) -> Any:
        if value is None:
            # `color: #1f5fbf` unquoted: YAML reads everything after '#' as a comment.
            raise ValueError('give a colour in quotes, e.g. color: "#1f5fbf" (an unquoted # '
                             "starts a YAML comment)")  # fmt: skip
        if not isinstance(value, str) or not _HEX_COLOUR.match(value.strip()):
            raise ValueError(f'must be a hex colour like "#1f5fbf" or "#15b", not {value!r}')
        return value.strip().lower()

    @field_validator("logo")
    @classmethod
    def _valid_logo(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if len(value) > _MAX_URL or any(c.isspace() or c in "\"'<>\\`" for c in value):
            raise ValueError("must be a URL without spaces or quotes, at most 2000 characters")
        if value.startswith("/") and not value.startswith("//"):
            return value  # a path on the kefu server; the widget resolves it against kefu
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"must be an http(s):// URL or a path starting with /, not {value!r}")
        return value

    @field_validator("greeting", "launcher_text", mode="before")
    @classmethod
    def _accept_plain_string(cls, value: Any) -> Any:
        return localize(value)

    def text_colour(self) -> str:
        """The text colour readable on the accent colour (white or near-black)."""
        return readable_text_colour(self.color)


def _luminance(colour: str) -> float:
    """WCAG relative luminance of a ``#rgb``/``#rrggbb`` colour."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = []
    for i in (0, 2, 4):
        c = int(digits[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def readable_text_colour(background: str) -> str:
    """White or near-black text, whichever contrasts more with ``background`` (WCAG), so a
    light brand colour still gets readable launcher and header text."""
    lum = _luminance(background)
    on_white = (1.05) / (lum + 0.05)
    dark = _luminance("#111111")
    on_dark = (lum + 0.05) / (dark + 0.05)
    return "#ffffff" if on_white >= on_dark else "#111111"
