"""Input and output safety: Unicode clean-up, size limits, sensitive words, PII, injection."""

from kefu.safety.injection import InjectionVerdict, detect_injection, leaks_secret
from kefu.safety.input_guard import GuardedInput, guard_input
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
from kefu.safety.text import clean_text, clean_value

__all__ = [
    "ALL_PII_KINDS",
    "GuardedInput",
    "InjectionVerdict",
    "PiiHit",
    "PiiKind",
    "SensitiveWords",
    "StreamGuard",
    "WordHit",
    "clean_text",
    "clean_value",
    "detect_injection",
    "find_pii",
    "guard_input",
    "id_card_valid",
    "leaks_secret",
    "luhn_valid",
    "mask_pii",
    "mask_value",
    "matching_form",
]
