"""Input and output safety: Unicode clean-up and size limits (more filters later)."""

from kefu.safety.input_guard import GuardedInput, guard_input
from kefu.safety.text import clean_text, clean_value

__all__ = ["GuardedInput", "clean_text", "clean_value", "guard_input"]
