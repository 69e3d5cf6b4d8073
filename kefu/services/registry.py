"""The loaded apps: YAML into the store, knowledge into each app's index, keys into memory."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from kefu.appfile.app_config import AppConfig
from kefu.core.errors import NotFound
from kefu.engine.annotation_book import AnnotationBook
from kefu.engine.app import AppRuntime, sensitive_words
from kefu.engine.dialog.flows import FlowBook
from kefu.engine.understanding import AppUnderstanding
from kefu.knowledge import BuildProgress, BuildReport, KnowledgeIndex
from kefu.knowledge.classifier_encoder import minilm_encoder
from kefu.knowledge.embedders.factory import build_embedder, build_reranker
from kefu.knowledge.vectors.store import MilvusVectorStore
from kefu.llm.factory import LLMOverrides, build_chat_model
from kefu.nlu.faq_classifier import FaqEntryTrainer
from kefu.services.identity import IdentityVerifier
from kefu.services.knowledge_sync import sync_config_sources
from kefu.services.shared_state import SharedState
from kefu.store import ApiKeyRecord, Store
from kefu.tools import ToolRegistry

__all__ = ["AppRegistry", "AppRuntime", "Credential", "reload_annotations", "reload_knowledge"]

log = logging.getLogger(__name__)


def reload_knowledge(
    app: AppRuntime, store: Store, progress: BuildProgress | None = None
) -> BuildReport | None:
    """Update the app's index from the store if the stored knowledge changed: only the
    changed documents' chunks are tokenized and embedded. What the build did, or None."""
    revision = store.apps.knowledge_revision(app.id)
    if revision == app.knowledge_revision:
        return None
    faqs, chunks = store.knowledge.load(app.id)
    return app.install_knowledge(
        revision, faqs, chunks, _annotation_book(app, store), progress=progress
    )


def reload_annotations(app: AppRuntime, store: Store) -> None:
    """Pick up changed annotations now, without reloading the knowledge index."""
    app.install_annotations(_annotation_book(app, store))


def _annotation_book(app: AppRuntime, store: Store) -> AnnotationBook:
    settings = store.annotations.settings(app.id)
    annotations = store.annotations.all(app.id) if settings.enabled else []
    return app.annotations.reload(settings, annotations, app.index)


@dataclass(frozen=True, slots=True)
class Credential:
    """What a bearer key grants: its kind and the app."""

    kind: str  # app | dataset
    app: AppRuntime
    key_id: str  # for rate limits and the audit log


class AppRegistry:
    """Loads apps from YAML into the store and keeps the key → app map in memory.

    Key lookups happen on every request, so keys live in a dict keyed by their stored digest
    (an HMAC with the server secret, :mod:`kefu.core.key_hash`); comparing digests of long
    random keys leaks nothing an attacker can use.
    """

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        *,
        route_cache: bool = True,
        llm_overrides: LLMOverrides | None = None,
        train_in_subprocess: bool = False,
        milvus_uri: str | None = None,
        milvus_token: str = "",
        shared: SharedState | None = None,
    ) -> None:
        self._store = store
        self._shared = shared if shared is not None else SharedState()
        self._data_dir = data_dir
        self._route_cache = route_cache
        self._llm_overrides = llm_overrides
        self._train_in_subprocess = train_in_subprocess
        self._milvus_uri = milvus_uri
        self._milvus_token = milvus_token
        self._apps: dict[str, AppRuntime] = {}
        self._credentials: dict[str, Credential] = {}
        self._identities: dict[str, IdentityVerifier | None] = {}

    def load(self, config: AppConfig) -> AppRuntime:
        """Register (or update) an app from its config, sync its knowledge, build its index."""
        identity = IdentityVerifier.from_config(
            config.security.identity, str(config.source_file or config.name)
        )
        record = self._store.apps.upsert_app(config.name, config.model_dump(mode="json"))
        sync_config_sources(self._store, record.id, config)
        tools = ToolRegistry.from_config(config.tools)
        runtime = AppRuntime(
            id=record.id,
            config=config,
            index=KnowledgeIndex(
                self._data_dir / "index" / config.name,
                embedder=build_embedder(config.knowledge.retrieval.embedding),
                retrieval=config.knowledge.retrieval,
                reranker=build_reranker(config.knowledge.retrieval.rerank),
                vector_store=self._vector_store(config.name),
                faq_classifier=(
                    FaqEntryTrainer(in_child=self._train_in_subprocess)
                    if config.knowledge.retrieval.faq_classifier
                    else None
                ),
                classifier_encoder=minilm_encoder,
            ),
            route_cache_size=config.knowledge.route_cache_size if self._route_cache else 0,
            model=build_chat_model(
                config.llm, self._llm_overrides, self._shared.breakers(config.name)
            ),
            caches=self._shared.caches,
            sensitive=sensitive_words(config),
            tools=tools,
            flows=FlowBook(config.flows, config.replies, tools),
        )
        started = time.perf_counter()
        reload_knowledge(runtime, self._store)
        index = runtime.index
        log.info(
            "app %s: retrieval %s; %d FAQ entries and %d chunks indexed in %.2f s",
            config.name,
            index.description,
            index.faq_count,
            index.chunk_count,
            time.perf_counter() - started,
        )
        questions = [
            form for faq in runtime.index.faq_entries for form in (faq.question, *faq.variants)
        ]
        runtime.understanding = AppUnderstanding.build(
            config,
            questions,
            in_subprocess=self._train_in_subprocess,
            caches=self._shared.caches,
            namespace=f"{record.id}:understanding",
        )
        self._apps[config.name] = runtime
        self._identities[config.name] = identity
        self.refresh_credentials()
        return runtime

    def _vector_store(self, app: str) -> MilvusVectorStore | None:
        """Milvus for the app's passage vectors when KEFU_MILVUS_URI is set."""
        if not self._milvus_uri:
            return None
        return MilvusVectorStore(self._milvus_uri, app, token=self._milvus_token)

    def identity(self, app: AppRuntime) -> IdentityVerifier | None:
        """How the app's end users prove who they are, if it is configured."""
        return self._identities.get(app.name)

    def public(self) -> list[AppRuntime]:
        """The apps whose chat page is open to every visitor (``web.public``)."""
        return [app for app in self._apps.values() if app.config.web.public]

    def get(self, name: str) -> AppRuntime:
        try:
            return self._apps[name]
        except KeyError:
            raise NotFound(f"no app named {name!r}") from None

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    def all(self) -> list[AppRuntime]:
        return list(self._apps.values())

    def ensure_key(self, app: AppRuntime, plaintext: str) -> None:
        self._store.apps.ensure_key(app.id, "app", plaintext)
        self.refresh_credentials()

    def new_key(self, app: AppRuntime, kind: str) -> tuple[ApiKeyRecord, str]:
        """A new ``app-…`` or ``dataset-…`` key; the plaintext is returned only now."""
        record, plaintext = self._store.apps.create_key_record(app.id, kind)
        self.refresh_credentials()
        return record, plaintext

    def revoke_key(self, app: AppRuntime, key_id: str) -> bool:
        revoked = self._store.admin.revoke_key(app.id, key_id)
        self.refresh_credentials()
        return revoked

    def list_keys(self, app: AppRuntime) -> list[ApiKeyRecord]:
        return self._store.apps.list_keys(app.id)

    def app_key_prefixes(self, app: AppRuntime) -> list[str]:
        return [k.prefix for k in self._store.apps.list_keys(app.id) if not k.revoked]

    def refresh_credentials(self) -> None:
        by_id = {app.id: app for app in self._apps.values()}
        credentials = {
            key_hash: Credential(key.kind, by_id[key.app_id], key.id)
            for key_hash, key in self._store.apps.active_keys().items()
            if key.app_id in by_id
        }
        self._credentials = credentials

    def authenticate(self, plaintext: str) -> Credential | None:
        hasher = self._store.key_hasher
        credential = self._credentials.get(hasher.digest(plaintext))
        if credential is not None:
            return credential
        legacy = hasher.legacy_digest(plaintext)
        if legacy is None or legacy not in self._credentials:
            return None
        # A key stored before the HMAC: rewrite its row once, then it is found directly.
        self._store.apps.find_key(plaintext)
        self.refresh_credentials()
        return self._credentials.get(hasher.digest(plaintext))

    def refresh_knowledge(self) -> None:
        """Pick up knowledge changed by another process (e.g. ``kefu kb import``)."""
        for app in self.all():
            reload_knowledge(app, self._store)
