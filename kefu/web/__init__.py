"""Static web files served by kefu: the demo chat page, the embeddable widget, the console."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"

__all__ = ["STATIC_DIR"]
