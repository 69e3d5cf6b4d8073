from tests.handoff.conftest import Desk

async def test_prof(desk: Desk) -> None:
    for q in ["量子纠缠怎么解释", "黑洞是怎么形成的", "火星上明天天气如何", "写一首关于秋天的诗", "Explain quantum physics", "你们的服务太差了，气死我了", "我要投诉，太离谱了", "我要退款，金额800元", "我要退款，金额100元", "我找找看", "什么时候发货 W1234567"]:
        a = await desk.ask("prof-" + q, q)
        tr = desk.runtime.store.conversations.get_trace(a["message_id"])
        print(q, tr.data.get("route"), (tr.data["stages"][1].get("intent") or {}).get("label"), tr.data["stages"][1].get("sentiment")["label"])
