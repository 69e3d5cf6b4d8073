"""jieba, imported without ``pkg_resources``.

jieba 0.42 imports setuptools' ``pkg_resources`` only to open its own dictionary file, and
falls back to a plain ``open`` of the same file when the import fails. ``pkg_resources``
costs a server ~14 MB of memory and ~0.1 s of start-up for nothing else, so it is hidden
while jieba is first imported (unless something already loaded it). Every kefu module
imports jieba from here.
"""

from __future__ import annotations

import sys

if "jieba" in sys.modules or "pkg_resources" in sys.modules:
    import jieba
else:
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # makes the import fail
    try:
        import jieba
    finally:
        del sys.modules["pkg_resources"]

__all__ = ["jieba"]
