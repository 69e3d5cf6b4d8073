"""CPU per message of the turn's input guard and understand stages, and of their parts.

``turn_cpu.py`` measures a whole turn; on a shared machine its figure moves by more than
these two stages cost. This script runs only them, over the realistic load's messages with
the demo app, each message once per repetition with empty caches (every message distinct,
as under the realistic load), and prints the best repetition's µs per message (the least
disturbed by other processes): the input guard (clean-up, PII, sensitive words, injection),
the understand stage (language, entities, intent, sentiment, dialog act, request for a
human, escalation), and each part alone. Compare two checkouts by running it from each.

    .venv/bin/python bench/understand_cpu.py [--messages 2000] [--repeat 9]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import realistic_load as rl  # noqa: E402  (the sibling scripts, imported as modules)
from turn_cpu import demo_runtime  # noqa: E402

from kefu.engine.guards import judge_input  # noqa: E402
from kefu.engine.understanding import AppUnderstanding, with_placeholders  # noqa: E402
from kefu.knowledge import detect_language  # noqa: E402
from kefu.nlu.dialog_acts import detect_act, wants_human  # noqa: E402
from kefu.nlu.escalation import detect_escalation  # noqa: E402
from kefu.nlu.sentiment import analyze_sentiment  # noqa: E402
from kefu.safety import guard_input  # noqa: E402
from kefu.safety.injection import detect_injection  # noqa: E402
from kefu.safety.pii import find_pii  # noqa: E402

DAY = dt.date(2026, 12, 4)


def _best_us(run: Callable[[], None], count: int, repeat: int) -> float:
    """µs per message of the least disturbed of ``repeat`` runs (thread CPU time)."""
    run()  # warm: code paths, lazily built tables
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.thread_time()
        run()
        best = min(best, time.thread_time() - started)
    return round(best / count * 1e6, 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)
    texts = [text.strip() for text in rl.build_messages(300 + args.messages)[0][300:]]
    with tempfile.TemporaryDirectory() as tmp:
        runtime = demo_runtime(Path(tmp))
        app = runtime.apps.all()[0]
        understanding = app.understanding
        assert understanding is not None and understanding.classifier is not None
        classifier, extractor = understanding.classifier, understanding.extractor
        limit = app.config.limits.max_query_chars
        placeheld = [with_placeholders(t, extractor.extract(t, today=DAY)) for t in texts]

        def guard() -> None:
            for text in texts:
                query = guard_input(text, max_chars=limit).text
                judge_input(query, app.sensitive, block_injection=True)

        def understand() -> None:
            fresh = AppUnderstanding(classifier, extractor, support=understanding.support)
            for text in texts:
                if any(ch.isalpha() for ch in text):
                    detect_language(text)
                fresh.understand(text, DAY)

        def each(
            part: Callable[[str], object], inputs: Sequence[str] = texts
        ) -> Callable[[], None]:
            def run() -> None:
                for text in inputs:
                    part(text)

            return run

        stages = {"input guard": guard, "understand": understand}
        parts = {
            "detect_injection": each(detect_injection),
            "find_pii": each(find_pii),
            "entities": each(lambda text: extractor.extract(text, today=DAY)),
            "intent (classifier)": each(classifier.predict, placeheld),
            "sentiment": each(analyze_sentiment),
            "dialog act": each(detect_act),
            "wants_human": each(wants_human),
            "escalation": each(detect_escalation),
        }
        result = {
            "messages": len(texts),
            "us_per_message": {
                name: _best_us(run, len(texts), args.repeat)
                for name, run in {**stages, **parts}.items()
            },
        }
        runtime.close()
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
