"""The self-contained HTML page of ``kefu replay --html``: counts, transitions, examples.

Jinja2 with autoescaping on renders it (every query, answer and file name is the customer's
or the operator's text: nothing reaches the page unescaped); the styles are inline, so the
file opens anywhere, offline, and can be attached to a ticket or a pull request.
"""

from __future__ import annotations

from typing import Any

import jinja2

from kefu.services.replay import ASPECTS, ReplayReport

__all__ = ["ASPECT_NAMES", "render_html"]

ASPECT_NAMES: dict[str, str] = {
    "route": "路由 route",
    "knowledge": "知识来源 FAQ / source",
    "flow": "流程 flow / slot",
    "handoff": "转人工 hand-over",
    "answer": "回答 answer text",
}

_PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kefu replay: {{ report.app }}</title>
<style>
body { font: 14px/1.5 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; width: 100%; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.n { text-align: right; width: 6em; }
.before { background: #fdecea; } .after { background: #e8f5e9; }
.meta { color: #666; } code { white-space: pre-wrap; word-break: break-word; }
</style></head><body>
<h1>kefu replay · 回放报告: {{ report.app }}</h1>
<p class="meta">新配置 candidate: <code>{{ report.candidate }}</code><br>
对照 compared with: <code>{{ report.reference }}</code></p>
<table>
<tr><th>会话 conversations</th><td class="n">{{ report.conversations }}</td></tr>
<tr><th>回放轮次 replayed customer turns</th><td class="n">{{ report.replayed }}</td></tr>
<tr><th>人工处理的轮次（未回放）turns a human agent handled (not replayed)</th>
<td class="n">{{ report.skipped_human }}</td></tr>
<tr><th>有变化的轮次 turns with a change</th><td class="n">{{ changed_turns }}</td></tr>
{% for aspect in aspects %}<tr><th>&nbsp;&nbsp;{{ names[aspect] }}</th>
<td class="n">{{ counts[aspect] }}</td></tr>{% endfor %}
<tr><th>未录制的工具调用 tool calls not recorded</th>
<td class="n">{{ not_recorded|length }}</td></tr>
</table>
{% for aspect in aspects %}{% if counts[aspect] %}
<h2>{{ names[aspect] }}: {{ counts[aspect] }}</h2>
{% if transitions[aspect] %}<table><tr><th>之前 before</th><th>之后 after</th>
<th>轮次 turns</th></tr>
{% for (before, after), count in transitions[aspect] %}<tr><td class="before">
<code>{{ before or "—" }}</code></td><td class="after"><code>{{ after or "—" }}</code></td>
<td class="n">{{ count }}</td></tr>{% endfor %}</table>{% endif %}
<table><tr><th>顾客 customer</th><th>之前 before</th><th>之后 after</th></tr>
{% for turn in examples[aspect] %}<tr><td><code>{{ turn.query }}</code><br>
<span class="meta">{{ turn.conversation_id }} #{{ turn.turn }}</span></td>
<td class="before"><code>{{ turn.before.get(aspect) or "—" }}</code></td>
<td class="after"><code>{{ turn.after.get(aspect) or "—" }}</code></td></tr>{% endfor %}
</table>{% endif %}{% endfor %}
{% if not_recorded %}<h2>未录制的工具调用 tool calls not recorded: {{ not_recorded|length }}</h2>
<p class="meta">新配置调用了录制中没有的参数组合，回放答以 “unavailable / not recorded”。
The new app called a tool with arguments no recorded call had; the replay answered
“unavailable / not recorded”.</p>
<table><tr><th>工具 tool</th><th>参数 arguments</th></tr>
{% for tool, arguments in not_recorded %}<tr><td><code>{{ tool }}</code></td>
<td><code>{{ arguments|tojson }}</code></td></tr>{% endfor %}</table>{% endif %}
</body></html>
"""

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def render_html(report: ReplayReport, examples: int = 20) -> str:
    """The report as one HTML page; every value is escaped."""
    counts = {aspect: len(report.changes(aspect)) for aspect in ASPECTS}
    context: dict[str, Any] = {
        "report": report,
        "aspects": ASPECTS,
        "names": ASPECT_NAMES,
        "counts": counts,
        "changed_turns": len(report.changed_turns),
        "transitions": {a: report.transitions(a).most_common() for a in ASPECTS},
        "examples": {a: report.changes(a)[:examples] for a in ASPECTS},
        "not_recorded": report.not_recorded,
    }
    return _ENVIRONMENT.from_string(_PAGE).render(context)
