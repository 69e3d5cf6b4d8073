"""Static web pages served by kefu: the demo chat page (and later the widget and console)."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"

__all__ = ["STATIC_DIR"]
