"""App configuration: one YAML file per app (``apps/<name>.yaml``).

A bad file fails at start-up with :class:`~kefu.core.errors.ConfigError` naming the file,
the key and what is wrong — never a traceback.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from kefu.appfile._strict import Strict
from kefu.appfile.channel_config import ChannelConfig, unique_channel_names
from kefu.appfile.dialog_config import FlowConfig, NluConfig, intent_examples
from kefu.appfile.embedding_config import RetrievalConfig
from kefu.appfile.env_vars import expand_env
from kefu.appfile.handoff_config import HandoffConfig
from kefu.appfile.llm_config import LLMConfig
from kefu.appfile.proactive_config import ProactiveConfig
from kefu.appfile.security_config import SafetyConfig, SecurityConfig, WebConfig
from kefu.appfile.tool_config import ToolList
from kefu.appfile.yaml_lint import find_cut_values
from kefu.core.errors import ConfigError
from kefu.core.localized import LocalizedText
from kefu.core.localized import localize as _localize
from kefu.core.types import Language

__all__ = [
    "AppConfig",
    "KnowledgeConfig",
    "LimitsConfig",
    "LocalizedText",
    "RepliesConfig",
    "load_app_config",
    "parse_app_config",
]

log = logging.getLogger(__name__)
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class SemanticCacheConfig(Strict):
    """The semantic route cache (kefu.engine.semantic_cache): a question whose vector is this
    close to a recent one's, with the same numbers, entities, dialog state and most of its
    words, reuses that one's routing decision when it was clear of every threshold. The
    defaults were measured for precision >= 99 % (bench/route_cache_semantic.py)."""

    enabled: bool = Field(True, description="on when the app has an embedder")
    threshold: float = Field(
        0.88, ge=0.5, le=1, description="cosine to a recent question that reuses its decision"
    )
    min_shared_words: float = Field(
        0.75, ge=0, le=1, description="share of content words both questions have (Jaccard)"
    )
    margin: float = Field(
        0.1, ge=0, le=1, description="how far from its thresholds a reused decision must be"
    )
    size: int = Field(1024, ge=1, le=100_000, description="recent questions remembered")
    ttl_s: float = Field(600.0, gt=0, description="seconds a remembered decision is reused")


class KnowledgeConfig(Strict):
    """Where the app's knowledge comes from and how it is matched."""

    faq: list[Path] = Field(default_factory=list, description="FAQ files (CSV or JSONL)")
    documents: list[Path] = Field(
        default_factory=list,
        description="document files or folders (Markdown, text, HTML, PDF, DOCX)",
    )
    faq_threshold: float = Field(0.55, ge=0, le=1, description="FAQ relevance to answer directly")
    clarify_margin: float = Field(
        0.05,
        ge=0,
        le=1,
        description="two FAQ entries closer than this (both above the threshold): ask which "
        "one the customer means instead of guessing (0: never ask)",
    )
    passage_threshold: float = Field(
        0.3,
        ge=0,
        le=1,
        description="passage relevance to answer from a document (omit: calibrated per "
        "language from the app's own knowledge; this value is the fallback)",
    )
    top_k: int = Field(3, ge=1, le=20, description="retrieved passages listed as sources")
    chunk_size: int = Field(400, ge=50, le=4000, description="target chunk length, characters")
    chunk_overlap: int = Field(40, ge=0, le=1000, description="overlap between chunks")
    route_cache_size: int = Field(
        4096, ge=0, le=1_000_000, description="questions whose routing is cached (0: off)"
    )
    semantic_cache: SemanticCacheConfig = Field(
        default_factory=SemanticCacheConfig,
        description="reuse the decision of a recent near-duplicate question (needs an embedder)",
    )
    retrieval: RetrievalConfig = Field(
        default_factory=RetrievalConfig,
        description="embedder, reranker and fusion (default: lexical BM25 only)",
    )
    remove_urls: bool = Field(False, description="drop URLs from imported documents")
    remove_emails: bool = Field(False, description="drop e-mail addresses from documents")


class RepliesConfig(Strict):
    """Preset replies (Chinese and English)."""

    fallback: LocalizedText = LocalizedText(
        zh="抱歉，这个问题我暂时无法回答。您可以换个说法，或联系人工客服。",
        en="Sorry, I can't answer that yet. Please rephrase, or ask for a human agent.",
    )
    blocked: LocalizedText = LocalizedText(
        zh="抱歉，这个问题我无法回答。", en="Sorry, I can't help with that."
    )
    refused: LocalizedText = LocalizedText(
        zh="抱歉，我只能回答与本店购物和服务相关的问题。请问您的订单、售后或会员有什么需要帮忙的吗？",
        en="Sorry, I can only help with questions about our shop and its services. "
        "Is there anything about your order, a return or your membership I can help with?",
    )
    # {source}: the document's name; {section}: its heading where the quote comes from,
    # already set off ("「签收与拒收」", " (Refusing delivery)"), or "" for a document's top
    source_prefix: LocalizedText = LocalizedText(
        zh="根据《{source}》{section}：", en="According to “{source}”{section}: "
    )
    handoff: LocalizedText = LocalizedText(
        zh="正在为您转接人工客服，请稍候。",
        en="I'm connecting you with a human agent; please hold on.",
    )
    flow_cancelled: LocalizedText = LocalizedText(
        zh="好的，已取消。还有其他可以帮您的吗？",
        en="OK, cancelled. Is there anything else I can help with?",
    )
    action_declined: LocalizedText = LocalizedText(
        zh="好的，不做任何更改。还有其他可以帮您的吗？",
        en="OK, nothing has been changed. Is there anything else I can help with?",
    )
    confirm_action: LocalizedText = LocalizedText(
        zh="我将为您{action}：{details}。确认请回复“是”，不需要请回复“否”。",
        en="I will {action}: {details}. Reply “yes” to confirm or “no” to leave it.",
    )
    not_understood: LocalizedText = LocalizedText(
        zh="抱歉，我没有识别出来。", en="Sorry, I didn't catch that."
    )
    clarify: LocalizedText = LocalizedText(
        zh="您想问的是下面哪一个？回复序号即可：",
        en="Which of these do you mean? Reply with its number:",
    )
    resume: LocalizedText = LocalizedText(
        zh="我们继续刚才的事情：", en="Back to what we were doing: "
    )
    action_failed: LocalizedText = LocalizedText(
        zh="抱歉，系统暂时无法处理，请稍后再试，或输入「转人工」联系人工客服。",
        en="Sorry, the system can't handle this right now. Please try again later "
        "or ask for a human agent.",
    )

    @field_validator(
        "fallback",
        "blocked",
        "refused",
        "source_prefix",
        "handoff",
        "flow_cancelled",
        "action_declined",
        "confirm_action",
        "not_understood",
        "resume",
        "action_failed",
        mode="before",
    )
    @classmethod
    def _accept_plain_string(cls, value: Any) -> Any:
        return _localize(value)


class LimitsConfig(Strict):
    max_query_chars: int = Field(4000, ge=1, le=100_000)
    history_turns: int = Field(10, ge=0, le=200, description="turns of history an LLM sees")
    session_ttl_s: float | None = Field(
        None,
        gt=0,
        description="a conversation idle this long ends, and the customer's next message "
        "starts a new one (none: KEFU_SESSION_TTL_S, else never)",
    )


class AppConfig(Strict):
    """One customer-service app, as written in ``apps/<name>.yaml``."""

    name: str = Field(description="identifier used in URLs and as the OpenAI `model`")
    title: LocalizedText | None = None
    description: str = ""
    language: Language = "zh"
    persona: str = ""
    opening_statement: LocalizedText | None = None
    suggested_questions: list[str] = Field(default_factory=list)
    suggested_questions_after_answer: bool = Field(
        True, description="offer the closest FAQ questions after each answer"
    )
    knowledge: KnowledgeConfig = KnowledgeConfig()
    replies: RepliesConfig = RepliesConfig()
    limits: LimitsConfig = LimitsConfig()
    nlu: NluConfig = NluConfig()
    intents: dict[str, list[str]] = Field(
        default_factory=dict, description="intent label → example utterances"
    )
    flows: list[FlowConfig] = Field(default_factory=list)
    tools: ToolList = Field(default_factory=list)
    llm: LLMConfig = LLMConfig()
    security: SecurityConfig = SecurityConfig()
    web: WebConfig = WebConfig()
    safety: SafetyConfig = SafetyConfig()
    handoff: HandoffConfig = HandoffConfig()
    channels: list[ChannelConfig] = Field(
        default_factory=list, description="WeCom, Feishu, webhooks… (docs/channels.md)"
    )
    proactive: ProactiveConfig = Field(
        default_factory=ProactiveConfig, description="offers of help on events (docs/proactive.md)"
    )
    source_file: Path | None = Field(None, exclude=True)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("must be 1-64 lowercase letters, digits, '-' or '_'")
        return value

    @field_validator("title", "opening_statement", mode="before")
    @classmethod
    def _accept_plain_string(cls, value: Any) -> Any:
        return _localize(value)

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, value: list[ChannelConfig]) -> list[ChannelConfig]:
        for channel in value:
            channel.settings()  # no secret written in the file
        return unique_channel_names(value)

    @field_validator("intents", mode="before")
    @classmethod
    def _valid_intents(cls, value: Any) -> Any:
        return intent_examples(value) if value is not None else {}

    @model_validator(mode="after")
    def _flows_have_intents(self) -> AppConfig:
        names: set[str] = set()
        starters: set[str] = set()
        for flow in self.flows:
            if flow.name in names:
                raise ValueError(f"flows: two flows are named {flow.name!r}")
            if flow.intent in starters:
                raise ValueError(f"flows: two flows start on intent {flow.intent!r}")
            if flow.intent not in self.intents:
                raise ValueError(
                    f"flows: flow {flow.name!r} starts on intent {flow.intent!r}, "
                    "which has no examples under `intents`"
                )
            declared = {t.name for t in self.tools}
            for step in flow.steps:
                if step.tool not in declared:
                    raise ValueError(
                        f"flows: flow {flow.name!r} calls tool {step.tool!r}, "
                        "which is not declared under `tools`"
                    )
            names.add(flow.name)
            starters.add(flow.intent)
        return self

    def display_title(self, language: Language | None = None) -> str:
        if self.title is None:
            return self.name
        return self.title.get(language or self.language)


def parse_app_config(data: Any, *, file: str = "<app>", base_dir: Path | None = None) -> AppConfig:
    """Validate a parsed YAML/JSON mapping; relative knowledge paths resolve from ``base_dir``."""
    if not isinstance(data, dict):
        raise ConfigError("the file must hold a mapping of keys to values", file=file)
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or None
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{first['msg']}{more}", file=file, key=key) from None
    if base_dir is not None:
        knowledge = config.knowledge.model_copy(
            update={
                "faq": [_resolve(base_dir, p) for p in config.knowledge.faq],
                "documents": [_resolve(base_dir, p) for p in config.knowledge.documents],
            }
        )
        config = config.model_copy(update={"knowledge": knowledge})
    if config.llm.model_path is not None and base_dir is not None:
        llm = config.llm.model_copy(
            update={"model_path": _resolve(base_dir, config.llm.model_path)}
        )
        config = config.model_copy(update={"llm": llm})
    for index, path in enumerate(config.knowledge.faq):
        if not path.is_file():
            raise ConfigError(f"no such FAQ file: {path}", file=file, key=f"knowledge.faq.{index}")
    for index, path in enumerate(config.knowledge.documents):
        if not path.exists():
            raise ConfigError(
                f"no such document file or folder: {path}",
                file=file,
                key=f"knowledge.documents.{index}",
            )
    return config


def load_app_config(path: Path) -> AppConfig:
    """Read and validate an app YAML file."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file ({exc})", file=file) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {where}{problem}", file=file) from None
    for cut in find_cut_values(text):
        log.warning("%s: %s", file, cut.describe())
    data = expand_env(data, file=file)  # ${NAME} / ${NAME:-default}: per-deployment URLs
    config = parse_app_config(data, file=file, base_dir=path.parent)
    return config.model_copy(update={"source_file": path.resolve()})


def _resolve(base_dir: Path, path: Path) -> Path:
    return path if path.is_absolute() else (base_dir / path).resolve()
