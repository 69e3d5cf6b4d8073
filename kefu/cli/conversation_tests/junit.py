"""JUnit XML for CI (GitLab, Jenkins, GitHub test reporters): one ``<testsuite>`` per file,
one ``<testcase>`` per conversation, a ``<failure>`` with the diff as text.

Written with the standard library's ElementTree: the format is a handful of elements, and
the maintained JUnit packages add nothing but a dependency."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from kefu.cli.conversation_tests.report import shown
from kefu.cli.conversation_tests.runner import TestResult

__all__ = ["failure_text", "write_junit"]


def failure_text(result: TestResult) -> str:
    """The diff as plain text: turn, what was said, expected vs actual."""
    lines: list[str] = []
    for number, turn in enumerate(result.turns, 1):
        answer = turn.observed.answer if turn.observed is not None else ""
        lines.append(f"turn {number}: » {turn.said}")
        lines.append(f"         « {shown(answer)}")
        for miss in turn.mismatches:
            lines.append(f"  {miss.key}: expected {shown(miss.expected)}")
            lines.append(f"  {' ' * len(miss.key)}    actual {shown(miss.actual)}")
            if miss.note:
                lines.append(f"  ({miss.note})")
    if result.error:
        lines.append(f"error: {result.error}")
    return "\n".join(lines)


def write_junit(path: Path, results: list[TestResult], seconds: float) -> None:
    root = ET.Element("testsuites", name="kefu test", time=f"{seconds:.3f}")
    by_file: dict[Path, list[TestResult]] = {}
    for result in results:
        by_file.setdefault(result.file, []).append(result)
    for file, group in by_file.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=str(file),
            tests=str(len(group)),
            failures=str(sum(1 for r in group if not r.passed and r.error is None)),
            errors=str(sum(1 for r in group if r.error is not None)),
            time=f"{sum(r.seconds for r in group):.3f}",
        )
        for result in group:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=file.stem,
                name=result.name,
                file=str(file),
                line=str(result.test.line),
                time=f"{result.seconds:.3f}",
            )
            if result.passed:
                continue
            kind = "error" if result.error is not None else "failure"
            first = next((t.mismatches[0] for t in result.turns if t.mismatches), None)
            message = result.error or (
                f"{first.key}: expected {shown(first.expected)}" if first else "failed"
            )
            element = ET.SubElement(case, kind, message=message[:500])
            element.text = failure_text(result)
    root.set("tests", str(len(results)))
    root.set("failures", str(sum(1 for r in results if not r.passed and r.error is None)))
    root.set("errors", str(sum(1 for r in results if r.error is not None)))
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
