"""Dependencies point inward (DESIGN.md): api/cli/web → engine → parts → store → core."""

from __future__ import annotations

import ast
from pathlib import Path

import kefu

PACKAGE = Path(kefu.__file__).parent
# Example projects in the repository: kefu may call them, they never import kefu.
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# What each part may import from kefu (besides itself).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    # Metrics, log context and spans: recorded where things happen (the model chain, the tool
    # registry, the turn, the services, the API), so the parts that record import it; it
    # imports nothing of kefu but core.
    "observability": {"core"},
    "appfile": {"core"},
    "store": {"core"},
    "safety": {"core", "appfile"},
    "knowledge": {"core", "appfile"},
    "nlu": {"core", "appfile", "knowledge"},
    # Conformance suites import the Protocols they test, which live next to their in-memory
    # implementations; nothing in kefu imports ``testing``, so this adds no cycle.
    "testing": {"core", "appfile", "llm", "knowledge", "safety", "handoff", "services"},
    "llm": {"core", "appfile", "observability"},
    "tools": {"core", "appfile", "observability"},
    "handoff": {"core", "appfile", "store"},
    "engine": {
        "core", "appfile", "safety", "knowledge", "nlu", "llm", "tools", "handoff",
        "observability",
    },
    "services": {
        "core", "appfile", "store", "engine", "safety", "knowledge", "nlu", "llm", "tools",
        "handoff", "observability",
    },
    "web": set(),
    # Channels (WeCom, Feishu, webhooks) run customer turns through the services, as the
    # API does; the API mounts their callbacks.
    "channels": {"core", "appfile", "services", "observability"},
    # Benchmarks that drive kefu and the shop from outside, over HTTP.
    "evaluation": {"core"},
    "api": {"core", "appfile", "services", "safety", "web", "observability", "channels"},
    "cli": {
        "core", "appfile", "services", "api", "nlu", "knowledge", "safety", "observability",
        "evaluation",
    },
}  # fmt: skip


def imported_modules(path: Path) -> list[str]:
    """Every absolute module name ``path`` imports, at module level or lazily."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def kefu_imports(path: Path) -> set[str]:
    parts: set[str] = set()
    for name in imported_modules(path):
        pieces = name.split(".")
        if pieces[0] == "kefu" and len(pieces) > 1:
            parts.add(pieces[1])
    return parts


def test_every_part_imports_only_inward() -> None:
    violations = []
    for part, allowed in ALLOWED.items():
        for path in (PACKAGE / part).rglob("*.py"):
            for imported in kefu_imports(path) - allowed - {part}:
                if imported.startswith("_") or imported == "__init__":
                    continue
                violations.append(f"{path.relative_to(PACKAGE)} imports kefu.{imported}")
    assert violations == []


def test_no_web_framework_outside_the_api() -> None:
    """HTTP is the api's: the services and the engine are usable from the CLI and tests."""
    web = {"fastapi", "starlette"}
    offenders = []
    for part in set(ALLOWED) - {"api", "demo_shop"}:
        for path in (PACKAGE / part).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(name.split(".")[0] in web for name in names):
                    offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def test_the_engine_never_imports_services_or_the_store() -> None:
    assert not {"services", "store", "api", "cli"} & ALLOWED["engine"]


def test_every_part_is_covered() -> None:
    parts = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert parts - {"_bundled_apps"} == set(ALLOWED)


def test_the_examples_never_import_kefu() -> None:
    sources = list(EXAMPLES.rglob("*.py"))
    assert any(path.parent.name == "kefu_demo_shop" for path in sources)
    for path in sources:
        assert [n for n in imported_modules(path) if n.split(".")[0] == "kefu"] == [], path
