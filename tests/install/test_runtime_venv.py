"""A plain install — kefu's runtime dependencies only, no extras, no test packages —
answers a question with a real LLM server (``KEFU_LLM_BASE_URL=… kefu ask``).

The virtual environment is made without a network: each runtime distribution's installed
files (its RECORD) are linked from this environment into a fresh ``venv --without-pip``,
and kefu itself is on the path through a ``.pth`` file, as an editable install puts it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kefu.llm.llamacpp_server import LlamaCppServer
from tests.install.closure import ROOT, runtime_closure
from tests.llm.conftest import start_llama_server

pytestmark = pytest.mark.integration
QUESTION = "拒收的话运费谁出"  # no FAQ: retrieve, then generate
EXTRACTIVE = "根据《配送政策》"  # how the same command answers without a model
# A small app whose answers are kept short (the demo's 512 tokens take SmolLM2 ~15 s).
APP = """\
name: plain-install
title: {zh: 安装检查, en: Install check}
language: zh
knowledge:
  documents: [docs]
llm:
  sampling: {temperature: 0, max_tokens: 32}
"""
POLICY = """\
# 配送政策

外包装明显破损或商品损坏的，可当场拒收并联系客服，运费由本店承担。
非质量问题拒收的订单按七天无理由退货处理，退回的运费 12 元从退款中扣除。
"""


def make_runtime_venv(folder: Path) -> Path:
    """A venv holding exactly kefu's runtime closure; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    for dist in runtime_closure().values():
        for file in dist.files or ():
            if file.parts[0] == "..":  # console scripts in bin/: kefu runs as python -m
                continue
            source = Path(str(dist.locate_file(file)))
            target = site / file
            if source.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(source)
    (site / "kefu-source.pth").write_text(f"{ROOT}\n", encoding="utf-8")
    return python


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_runtime_venv(tmp_path_factory.mktemp("runtime-venv"))


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaCppServer]:
    with start_llama_server() as server:
        yield server


@pytest.fixture(scope="module")
def app_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("app")
    (folder / "docs").mkdir()
    (folder / "docs" / "shipping.md").write_text(POLICY, encoding="utf-8")
    (folder / "app.yaml").write_text(APP, encoding="utf-8")
    return folder / "app.yaml"


def plain_env(home: Path, **extra: str) -> dict[str, str]:
    """No PYTHONPATH, no VIRTUAL_ENV: nothing from this environment leaks in."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **extra}


def importable(python: Path, modules: list[str], home: Path) -> dict[str, bool]:
    """Which of ``modules`` import in the venv of ``python`` (one process for all)."""
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "        print(name, True)\n"
        "    except ImportError:\n"
        "        print(name, False)\n"
    )
    result = subprocess.run(
        [str(python), "-c", script, *modules],
        env=plain_env(home), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {
        name: ok == "True" for name, ok in (line.split() for line in result.stdout.splitlines())
    }


def test_the_runtime_venv_has_kefus_dependencies_and_nothing_else(
    runtime_python: Path, tmp_path: Path
) -> None:
    needed = ["kefu.cli.main", "kefu.api.app", "kefu.llm.openai_compat", "openai"]
    absent = ["pytest", "xllamacpp", "llama_cpp", "pymilvus", "matplotlib", "playwright"]
    found = importable(runtime_python, needed + absent, tmp_path)
    assert found == {**dict.fromkeys(needed, True), **dict.fromkeys(absent, False)}


def test_a_plain_install_answers_with_the_model(
    runtime_python: Path, app_file: Path, llama: LlamaCppServer, tmp_path: Path
) -> None:
    env = plain_env(tmp_path, KEFU_LLM_BASE_URL=llama.base_url, KEFU_LLM_MODEL="smollm2")
    command = [str(runtime_python), "-m", "kefu.cli.main", "ask", "--app", str(app_file)]
    result = subprocess.run(
        [*command, QUESTION, "--data-dir", str(tmp_path / "data")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    answer = result.stdout.strip()
    assert answer and not answer.startswith(EXTRACTIVE), f"not the model's answer: {answer}"
    assert "配送政策" in result.stderr, "the sources it was grounded on are listed"


def test_without_a_model_the_same_question_gets_the_extractive_answer(
    runtime_python: Path, app_file: Path, tmp_path: Path
) -> None:
    """What the test above rules out, so that it can fail."""
    command = [str(runtime_python), "-m", "kefu.cli.main", "ask", "--app", str(app_file)]
    result = subprocess.run(
        [*command, QUESTION, "--data-dir", str(tmp_path / "data")],
        env=plain_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith(EXTRACTIVE)
