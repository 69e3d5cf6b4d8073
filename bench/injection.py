"""Time the per-message safety checks: injection detection and the streaming leak guard.

    python bench/injection.py

Prints µs per message for ``detect_injection`` over the bundled evaluation set, and µs per
answer for ``LeakGuard`` over ordinary answers streamed in small pieces.
"""

from __future__ import annotations

import time

from kefu.safety import LeakGuard, detect_injection
from kefu.safety.injection_eval import read_cases

PERSONA = (
    "你是网店「小铺优选」（XiaoPu Select）的在线客服“小铺”。请礼貌、简洁、耐心地回答顾客的问题，"
    "语气亲切专业，先直接给出结论，再补充必要的细节。只依据店铺的常见问题和政策文档回答，不编造"
    "政策、价格或承诺。顾客用什么语言提问，就用什么语言回答。"
)
ANSWER = (
    "您好！拒收的运费由顾客承担，退款会在收到退货后 3 个工作日内原路退回 [1]。"
    "If you refuse the parcel, the return shipping is on you; refunds take 3 working days [1]. "
) * 3


def per_message(texts: list[str], rounds: int = 20) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            detect_injection(text)
    return (time.perf_counter() - started) / rounds / len(texts) * 1e6


def per_answer(rounds: int = 200) -> float:
    pieces = [ANSWER[i : i + 4] for i in range(0, len(ANSWER), 4)]
    LeakGuard([PERSONA])  # the index is built once per persona and cached
    started = time.perf_counter()
    for _ in range(rounds):
        guard = LeakGuard([PERSONA])
        for piece in pieces:
            guard.feed(piece)
        guard.finish()
    return (time.perf_counter() - started) / rounds * 1e6


if __name__ == "__main__":
    texts = [case.text for case in read_cases()]
    print(f"detect_injection: {per_message(texts):.1f} µs per message ({len(texts)} messages)")
    print(
        f"LeakGuard: {per_answer():.0f} µs per {len(ANSWER)}-character answer in 4-character pieces"
    )
