"""``kefu test``: the demo app's conversation tests pass in process, and a wrong expectation
fails the run (exit 1) with a diff and a failing JUnit testcase. One run, one runtime, for
both: the demo suite plus one file that must fail."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.cli.main import app as kefu_app
from kefu_demo_shop import ShopConfigError, find_source

DEMO_TESTS = Path(__file__).parents[2] / "apps" / "demo-shop" / "tests"
WRONG = """\
tests:
  - name: a wrong expectation fails
    turns:
      - say: 订单多久发货？
        expect: {route: faq, cites: faq-zh-001}
      - say: 退货要扣多少运费?
        expect:
          route: passage
          contains: 包邮退货
          tool_calls: [{tool: get_order}]
      - say: this turn is never reached
"""


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    junit: ET.Element


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    try:
        find_source()
    except ShopConfigError as exc:
        pytest.skip(f"τ²-bench retail data absent (shared/data/tau2_retail/db.json): {exc}")
    folder = tmp_path_factory.mktemp("kefu-test")
    wrong = folder / "wrong.yaml"
    wrong.write_text(WRONG, encoding="utf-8")
    junit = folder / "junit.xml"
    result = CliRunner().invoke(
        kefu_app, ["test", str(DEMO_TESTS), str(wrong), "--junit", str(junit)]
    )
    assert junit.is_file(), result.output
    return Run(result.exit_code, result.stdout, ET.parse(junit).getroot())


def _cases(run: Run, folder: Path) -> list[ET.Element]:
    return [
        case
        for suite in run.junit.iter("testsuite")
        if Path(suite.get("name", "")).parent.resolve() == folder.resolve()
        for case in suite.iter("testcase")
    ]


@pytest.mark.integration  # the demo shop is a real uvicorn server, in a thread
def test_the_demo_suite_passes_in_process(run: Run) -> None:
    cases = _cases(run, DEMO_TESTS)
    assert len(cases) >= 40
    failed = [
        (case.get("name"), (case.find("failure") or case.find("error")))
        for case in cases
        if case.find("failure") is not None or case.find("error") is not None
    ]
    assert failed == [], run.stdout
    files = {Path(case.get("file", "")).stem for case in cases}
    assert {"faq", "order_status", "cancel_order", "membership", "bills"} <= files
    assert {"tool_failures", "digressions", "handoff"} <= files
    names = " ".join(case.get("name", "") for case in cases)
    assert "(zh)" in names and "(en)" in names


@pytest.mark.integration
def test_a_wrong_expectation_fails_with_a_diff_and_junit(run: Run) -> None:
    assert run.exit_code == 1
    # the diff: the failed turn, each failed key with expected and actual, the summary
    assert "a wrong expectation fails" in run.stdout
    assert "退货要扣多少运费?" in run.stdout
    for shown in ("route", "passage", "faq", "contains", "包邮退货", "tool_calls", "get_order"):
        assert shown in run.stdout, shown
    assert "1 more turns not run" in run.stdout
    assert "1 failed 失败" in run.stdout
    (case,) = [
        c for c in run.junit.iter("testcase") if c.get("name") == "a wrong expectation fails"
    ]
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "route: expected passage"
    assert "actual faq" in (failure.text or "")
    assert "turn 2: » 退货要扣多少运费?" in (failure.text or "")
    assert run.junit.get("failures") == "1"


def test_a_bad_test_file_is_exit_2_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "tests:\n  - name: x\n    turns:\n      - say: hi\n        expect: {route: faq, rout: x}\n",
        encoding="utf-8",
    )
    level = logging.getLogger("kefu").level
    result = CliRunner().invoke(kefu_app, ["test", str(bad), "--no-demo-shop"])
    assert result.exit_code == 2
    assert logging.getLogger("kefu").level == level  # quietened for the run only
    assert f"{bad}:5: tests.0.turns.0.expect.rout: Extra inputs are not permitted" in (
        result.stderr.replace("\n", "")
    )
