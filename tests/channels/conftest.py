"""One kefu server (real uvicorn) with every channel, and local mocks of the platforms."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kefu.api.app import create_app
from kefu.channels.hub import ChannelHub
from kefu.services.runtime import Runtime
from tests.channels import mock_feishu, mock_wecom
from tests.channels.mock_feishu import MockFeishu
from tests.channels.mock_wecom import MockWeCom
from tests.channels.serving import serving
from tests.conftest import FIXTURES, make_settings
from tests.handoff.receiver import Receiver, running_receiver

SHOP_APP = Path(__file__).parent / "shop.yaml"
WEBHOOK_SECRET = "test-channel-webhook-secret"
ENVIRON = {
    "TEST_WECOM_SECRET": mock_wecom.SECRET,
    "TEST_WECOM_TOKEN": mock_wecom.TOKEN,
    "TEST_WECOM_AES_KEY": mock_wecom.AES_KEY,
    "TEST_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "TEST_FEISHU_SECRET": mock_feishu.APP_SECRET,
    "TEST_FEISHU_TOKEN": mock_feishu.VERIFICATION_TOKEN,
    "TEST_FEISHU_ENCRYPT_KEY": mock_feishu.ENCRYPT_KEY,
}


@dataclass
class Shop:
    url: str  # kefu
    runtime: Runtime
    hub: ChannelHub
    wecom: MockWeCom
    feishu: MockFeishu
    receiver: Receiver

    def callback(self, channel: str) -> str:
        return f"{self.url}/channels/shop/{channel}"


@pytest.fixture(scope="package")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    folder = tmp_path_factory.mktemp("channels")
    wecom, feishu = MockWeCom(), MockFeishu()
    with (
        pytest.MonkeyPatch.context() as patch,
        running_receiver() as receiver,
        serving(wecom.app()) as wecom_url,
        serving(feishu.app()) as feishu_url,
    ):
        for name, value in ENVIRON.items():
            patch.setenv(name, value)
        app_file = folder / "shop.yaml"
        app_file.write_text(
            SHOP_APP.read_text(encoding="utf-8")
            .replace("FAQ_PATH", str(FIXTURES / "apps" / "tiny" / "faq.jsonl"))
            .replace("MOCK_WECOM", wecom_url)
            .replace("MOCK_FEISHU", feishu_url)
            .replace("RECEIVER_URL", receiver.url),
            encoding="utf-8",
        )
        runtime = Runtime.build(make_settings(folder / "data"), [app_file])
        app = create_app(runtime, close_runtime=False)
        hub: ChannelHub = app.state.channels
        for kit in hub.kits.values():
            kit.backoff_s = 0.01  # retries in milliseconds
        with serving(app) as url:
            shop = Shop(url, runtime, hub, wecom, feishu, receiver)
            wecom.callback_urls = {
                "wk-queue": shop.callback("wecom"), "wk-inbox": shop.callback("wecom-inbox"),
            }  # fmt: skip
            feishu.callback_url = shop.callback("feishu")
            yield shop
        runtime.close()
