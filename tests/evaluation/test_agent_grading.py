"""τ²'s grading rules: required outputs, the database fingerprint, pass^k."""

from __future__ import annotations

import pytest

from kefu.evaluation.grading import grade_episode, output_found, pass_hat_k
from kefu.evaluation.shop_client import ShopState
from kefu.evaluation.tau2_tasks import Tau2Task
from kefu.evaluation.user_simulator import simulator_prompt, stop_reason


def test_outputs_are_matched_as_tau2_does() -> None:
    replies = ["Your refund is $1,126.04 in total.", "The CAMERA costs 481.50."]
    assert output_found("1126.04", replies)  # the reply's commas are dropped
    assert output_found("camera", replies)  # case does not matter
    assert not output_found("481.5 ", replies)
    assert not output_found("1,126.04", replies)  # τ² keeps the expected string as it is


def test_grade_needs_the_gold_database_and_every_output() -> None:
    gold = ShopState("h1", {"orders/#W1": "a", "users/u": "b"})
    same = ShopState("h1", dict(gold.rows))
    other = ShopState("h2", {"orders/#W1": "z", "users/u": "b"})
    assert grade_episode(same, gold, ["7"], ["it is 7"]).passed
    assert not grade_episode(same, gold, ["7"], ["it is eight"]).passed
    wrong = grade_episode(other, gold, [], [])
    assert not wrong.passed and wrong.differing_rows == ["orders/#W1"]


def test_pass_hat_k_is_the_unbiased_estimator() -> None:
    # Task A passed 2 of 3 trials, task B 3 of 3, task C none.
    assert pass_hat_k([2, 3, 0], 3, 1) == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert pass_hat_k([2, 3, 0], 3, 2) == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert pass_hat_k([2, 3, 0], 3, 3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        pass_hat_k([1], 3, 4)


def test_simulator_prompt_and_stop_tokens() -> None:
    task = Tau2Task(
        id="7",
        instructions={
            "reason_for_call": "You want to return a lamp.",
            "known_info": "You are Mei Kovacs.",
        },
    )
    prompt = simulator_prompt(task)
    assert prompt.index("###STOP###") < prompt.index("<scenario>")
    assert "Reason for call:\n\tYou want to return a lamp." in prompt
    assert stop_reason("Great, thanks! ###STOP###") == "stop"
    assert stop_reason("###TRANSFER###") == "transfer"
    assert stop_reason("I don't know ###OUT-OF-SCOPE###") == "out_of_scope"
    assert stop_reason("stop it") is None
