"""Everything a kefu process needs, built once from settings and app files."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path

import kefu
from kefu.appfile.app_config import load_app_config
from kefu.core.errors import ConfigError
from kefu.core.key_file import read_or_create_key
from kefu.core.key_hash import KeyHasher
from kefu.core.settings import Settings
from kefu.engine.app import AppRuntime
from kefu.llm.factory import LLMOverrides
from kefu.safety.rate_limit import RateLimits
from kefu.services.admin import AdminService
from kefu.services.agent_desk import AgentDesk
from kefu.services.analytics import AnalyticsService
from kefu.services.annotations import AnnotationService
from kefu.services.chat import ChatService
from kefu.services.conversations import ConversationService
from kefu.services.datasets import DatasetService
from kefu.services.handoff import HandoffService
from kefu.services.knowledge_gaps import KnowledgeGapService
from kefu.services.knowledge_loop import KnowledgeLoop
from kefu.services.proactive import ProactiveService
from kefu.services.readiness import Readiness
from kefu.services.registry import AppRegistry
from kefu.services.sessions import PageSessions
from kefu.services.shared_state import SharedState
from kefu.store import Store

__all__ = ["DEMO_APP", "Runtime", "demo_app_file"]

log = logging.getLogger(__name__)
DEMO_APP = "demo-shop"
ADMIN_KEY_FILE = "admin.key"
DEMO_KEY_FILE = "demo-app.key"
SECRET_FILE = "secret.key"


def demo_app_file() -> Path:
    """The demo app's YAML: bundled in the wheel, or in the source checkout."""
    package_dir = Path(kefu.__file__).parent
    for candidate in (
        package_dir / "_bundled_apps" / f"{DEMO_APP}.yaml",
        package_dir.parent / "apps" / f"{DEMO_APP}.yaml",
    ):
        if candidate.is_file():
            return candidate
    raise ConfigError("the demo app is not installed", file=f"apps/{DEMO_APP}.yaml")


def server_secret(settings: Settings) -> bytes:
    """The secret that signs page sessions and HMACs stored keys: ``KEFU_SECRET_KEY``, or
    one generated into the data dir (0600) on first start. Replicas must share it."""
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if len(value) < 16:
            raise ConfigError("KEFU_SECRET_KEY must be at least 16 characters (random)")
        return value.encode("utf-8")
    path = settings.data_dir / SECRET_FILE
    secret, created = read_or_create_key(path, "")
    if created and not settings.resolved_database_url().startswith("sqlite"):
        # A shared database usually means replicas: each would make its own secret, and
        # keys stored by one would not be found by the others.
        log.warning(
            "generated a server secret in %s; replicas sharing this database must share it: "
            "set KEFU_SECRET_KEY on all of them",
            path,
        )
    return secret.encode("utf-8")


@dataclass
class Runtime:
    """The process-wide graph: settings → store → apps → services."""

    settings: Settings
    store: Store
    apps: AppRegistry
    chat: ChatService
    conversations: ConversationService
    admin: AdminService
    limits: RateLimits
    shared: SharedState
    admin_key: str
    handoff: HandoffService
    agents: AgentDesk
    datasets: DatasetService
    annotations: AnnotationService
    knowledge_gaps: KnowledgeGapService
    sessions: PageSessions
    analytics: AnalyticsService
    knowledge_loop: KnowledgeLoop
    readiness: Readiness
    proactive: ProactiveService
    announcements: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # where the admin and demo keys come from

    @classmethod
    def build(cls, settings: Settings, app_files: list[Path], *, demo: bool = False) -> Runtime:
        """Open the store (migrating it), load every app, make sure each has a key."""
        # A new data dir is its owner's alone; an existing one keeps the mode it was given.
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if demo:
            app_files = [demo_app_file(), *app_files]
        if not app_files:
            raise ConfigError("no app to serve: give --app FILE or --demo")
        configs = [load_app_config(path) for path in app_files]  # fail before touching data
        names = [c.name for c in configs]
        if len(set(names)) != len(names):
            raise ConfigError(f"two app files declare the same name: {names}", key="name")
        secret = server_secret(settings)
        shared = SharedState.build(settings)
        store = Store.open(settings.resolved_database_url(), KeyHasher(secret))
        overrides = LLMOverrides(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        )
        registry = AppRegistry(
            store,
            settings.data_dir,
            route_cache=settings.route_cache,
            llm_overrides=overrides,
            train_in_subprocess=settings.train_in_subprocess,
            milvus_uri=settings.milvus_uri,
            milvus_token=settings.milvus_token.get_secret_value() if settings.milvus_token else "",
            shared=shared,
        )
        announcements: list[str] = [shared.describe()]
        keys: list[str] = []
        with store.startup():  # replicas starting together take turns
            for config in configs:
                app = registry.load(config)
                lines = cls._ensure_app_key(registry, app, settings, demo)
                (keys if app.name == DEMO_APP and demo else announcements).extend(lines)
        if settings.admin_key is not None:
            admin_key = settings.admin_key.get_secret_value()
            keys.append("admin key: from KEFU_ADMIN_KEY")
        else:
            key_file = settings.data_dir / ADMIN_KEY_FILE
            admin_key, _ = read_or_create_key(key_file, "admin-")
            keys.append(f"admin key: {admin_key}  (kept in {key_file}; KEFU_ADMIN_KEY overrides)")
        handoff = HandoffService(store, registry, hub=shared.hub)
        datasets, annotations = DatasetService(store), AnnotationService(store)
        return cls(
            settings=settings,
            store=store,
            apps=registry,
            chat=ChatService(
                store,
                shared.limits,
                handoff,
                tasks=shared.tasks,
                locks=shared.locks,
                session_ttl_s=settings.session_ttl_s,
            ),
            conversations=ConversationService(store),
            admin=AdminService(store, registry),
            limits=shared.limits,
            shared=shared,
            admin_key=admin_key,
            handoff=handoff,
            agents=AgentDesk(store, handoff),
            datasets=datasets,
            annotations=annotations,
            knowledge_gaps=KnowledgeGapService(store),
            sessions=PageSessions(
                secret,
                ttl_s=settings.page_session_ttl_s,
                max_age_s=settings.page_session_max_age_s,
            ),
            analytics=AnalyticsService(store),
            knowledge_loop=KnowledgeLoop(store, datasets, annotations),
            readiness=Readiness(settings, store, registry),
            proactive=ProactiveService(store),
            announcements=announcements,
            keys=keys,
        )

    @staticmethod
    def _ensure_app_key(
        registry: AppRegistry, app: AppRuntime, settings: Settings, demo: bool
    ) -> list[str]:
        if demo and app.name == DEMO_APP:
            if settings.demo_api_key is not None:
                registry.ensure_key(app, settings.demo_api_key.get_secret_value())
                return [f"API key of app {app.name!r}: from KEFU_DEMO_API_KEY"]
            key_file = settings.data_dir / DEMO_KEY_FILE
            key, _ = read_or_create_key(key_file, "app-")
            registry.ensure_key(app, key)
            return [f"API key of app {app.name!r}: {key}  (kept in {key_file})"]
        prefixes = registry.app_key_prefixes(app)
        if prefixes:
            shown = ", ".join(f"{p}…" for p in prefixes)
            return [f"app {app.name!r} uses its stored API keys ({shown})"]
        _, key = registry.new_key(app, "app")
        return [f"API key of app {app.name!r} (shown once, store it): {key}"]

    def is_admin_key(self, key: str) -> bool:
        return hmac.compare_digest(key.encode(), self.admin_key.encode())

    async def aclose_models(self) -> None:
        """Close the model clients' connections (from the event loop that used them)."""
        await self.handoff.drain()  # summaries in progress still use the models
        for app in self.apps.all():
            aclose = getattr(app.model, "aclose", None)
            if aclose is not None:
                await aclose()
            await app.tools.aclose()
            await app.index.aclose()  # the embedder's and reranker's connections
        await self.handoff.notify.dispatcher.drain(timeout_s=5.0)  # webhooks in flight
        await self.shared.aclose()

    def close(self) -> None:
        self.store.close()
        self.shared.close()
