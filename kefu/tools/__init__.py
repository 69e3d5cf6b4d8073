"""Tools the bot calls: HTTP tools declared in the app file and in-house Python tools.

Flows call them deterministically; an LLM calls them through OpenAI function calling
(:meth:`ToolRegistry.openai_tools`). See docs/tools.md.
"""

from kefu.tools.base import FAILURES, Outcome, Tool, ToolContext, ToolResult, trace_entry
from kefu.tools.http import HttpTool
from kefu.tools.python import PythonTool, load_entry_point
from kefu.tools.registry import ToolRegistry

__all__ = [
    "FAILURES",
    "HttpTool",
    "Outcome",
    "PythonTool",
    "Tool",
    "ToolContext",
    "ToolRegistry",
    "ToolResult",
    "load_entry_point",
    "trace_entry",
]
