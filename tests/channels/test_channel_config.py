"""The ``channels:`` section: mistakes name the file and key; secrets stay out of the file."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kefu.appfile.app_config import parse_app_config
from kefu.channels.hub import ChannelHub, channel_types
from kefu.core.errors import ConfigError

WECOM = {
    "type": "wecom_kf", "corp_id": "ww1", "secret_env": "S", "token_env": "T",
    "aes_key_env": "K",
}  # fmt: skip
ENVIRON = {"S": "secret", "T": "token", "K": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}


def hub(channels: list[dict[str, Any]], environ: dict[str, str] = ENVIRON) -> ChannelHub:
    """The hub over one app; only what building channels reads of a runtime."""
    config = parse_app_config({"name": "shop", "channels": channels}).model_copy(
        update={"source_file": Path("apps/shop.yaml")}
    )
    app = SimpleNamespace(name="shop", config=config)
    runtime = SimpleNamespace(
        store=SimpleNamespace(channels=None),
        apps=SimpleNamespace(all=lambda: [app]),
        handoff=SimpleNamespace(notify=SimpleNamespace(listeners=[])),
    )
    return ChannelHub(runtime, environ)  # type: ignore[arg-type]


def test_every_shipped_channel_type_is_found() -> None:
    assert {"wecom_kf", "webhook", "feishu"} <= set(channel_types())


def test_a_valid_channel_is_built_under_its_name() -> None:
    built = hub([{**WECOM, "name": "wx"}])
    assert set(built.kits) == {("shop", "wx")}
    assert built.unavailable == {}


def test_an_unknown_type_names_the_key_and_the_known_types() -> None:
    with pytest.raises(ConfigError) as caught:
        hub([{"type": "telegram"}])
    assert caught.value.key == "channels.0.type"
    assert "wecom_kf" in caught.value.reason and caught.value.file == "apps/shop.yaml"


def test_a_wrong_setting_names_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        hub([{**WECOM, "handoff": "somewhere"}])
    assert caught.value.key == "channels.0.handoff"
    with pytest.raises(ConfigError) as caught:
        hub([{**WECOM, "colour": "red"}])
    assert caught.value.key == "channels.0.colour"
    with pytest.raises(ConfigError) as caught:
        hub([{**WECOM, "secret_env": "not a variable"}])
    assert caught.value.key == "channels.0.secret_env"


def test_a_wrong_aes_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        hub([WECOM], {**ENVIRON, "K": "short"})
    assert caught.value.key == "channels.0.aes_key_env"


def test_a_missing_secret_turns_the_channel_off_not_the_server() -> None:
    built = hub([WECOM], {"S": "secret"})
    assert built.kits == {}
    assert "environment variable T" in built.unavailable["shop", "wecom_kf"]


def test_a_secret_written_in_the_file_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_app_config({"name": "shop", "channels": [{**WECOM, "secret": "abc"}]})
    assert "secret_env" in caught.value.reason


def test_two_channels_need_two_names() -> None:
    with pytest.raises(ConfigError, match="two channels are named 'wecom_kf'"):
        parse_app_config({"name": "shop", "channels": [WECOM, WECOM]})


def test_kefu_serve_names_a_channel_mistake_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kefu.cli.main import app

    app_file = tmp_path / "shop.yaml"
    app_file.write_text(
        "name: shop\nchannels:\n  - {type: wecom_kf, corp_id: ww1, secret_env: S, token_env: T,"
        " aes_key_env: K, handoff: somewhere}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["serve", "--app", str(app_file), "--data-dir", str(tmp_path / "data")]
    )
    assert result.exit_code == 2
    assert "channels.0.handoff" in result.output and "Traceback" not in result.output
