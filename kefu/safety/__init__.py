"""Input and output safety: Unicode clean-up, size limits, sensitive words, PII, injection."""

from kefu.safety.folding import compact_form, fold_text
from kefu.safety.injection import InjectionVerdict, detect_injection, normalise_for_detection
from kefu.safety.input_guard import GuardedInput, guard_input
from kefu.safety.leaks import LeakGuard, SecretIndex, leaks_secret
from kefu.safety.pii import (
    ALL_PII_KINDS,
    PiiHit,
    PiiKind,
    find_pii,
    id_card_valid,
    luhn_valid,
    mask_pii,
    mask_value,
)
from kefu.safety.sensitive import SensitiveWords, WordHit, matching_form
from kefu.safety.stream_guard import StreamGuard
from kefu.safety.text import clean_text, clean_value, has_control_chars

__all__ = [
    "ALL_PII_KINDS",
    "GuardedInput",
    "InjectionVerdict",
    "LeakGuard",
    "PiiHit",
    "PiiKind",
    "SecretIndex",
    "SensitiveWords",
    "StreamGuard",
    "WordHit",
    "clean_text",
    "clean_value",
    "compact_form",
    "detect_injection",
    "find_pii",
    "fold_text",
    "guard_input",
    "has_control_chars",
    "id_card_valid",
    "leaks_secret",
    "luhn_valid",
    "mask_pii",
    "mask_value",
    "matching_form",
    "normalise_for_detection",
]
