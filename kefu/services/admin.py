"""Operator actions, each written to the audit log: keys and retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from anyio import to_thread

from kefu.core.errors import InvalidParam, NotFound
from kefu.core.ids import is_id, utcnow
from kefu.services.chat_files import purge_files_before
from kefu.services.registry import AppRegistry
from kefu.store import ApiKeyRecord, AuditEntry, Store

__all__ = ["ADMIN_ACTOR", "AdminService"]

ADMIN_ACTOR = "admin"  # the KEFU_ADMIN_KEY holder; named accounts come with the console
KEY_KINDS = ("app", "dataset")


class AdminService:
    def __init__(self, store: Store, apps: AppRegistry) -> None:
        self._store = store
        self._apps = apps

    async def list_keys(self, app_name: str) -> list[ApiKeyRecord]:
        return await to_thread.run_sync(self._apps.list_keys, self._apps.get(app_name))

    async def create_key(self, app_name: str, kind: str, actor: str) -> tuple[ApiKeyRecord, str]:
        if kind not in KEY_KINDS:
            raise InvalidParam(f"kind must be one of {', '.join(KEY_KINDS)}")
        app = self._apps.get(app_name)
        record, plaintext = await to_thread.run_sync(self._apps.new_key, app, kind)
        await self._audit(actor, "key.create", app_name, key_id=record.id, kind=kind,
                          prefix=record.prefix)  # fmt: skip
        return record, plaintext

    async def revoke_key(self, app_name: str, key_id: str, actor: str) -> None:
        app = self._apps.get(app_name)
        if not is_id(key_id) or not await to_thread.run_sync(self._apps.revoke_key, app, key_id):
            raise NotFound("Key Not Exists.")
        await self._audit(actor, "key.revoke", app_name, key_id=key_id)

    async def rotate_key(self, app_name: str, key_id: str, actor: str) -> tuple[ApiKeyRecord, str]:
        """A new key of the same kind; the old one stops working at once."""
        app = self._apps.get(app_name)
        old = next((k for k in await self.list_keys(app_name) if k.id == key_id), None)
        if old is None or old.revoked:
            raise NotFound("Key Not Exists.")
        record, plaintext = await to_thread.run_sync(self._apps.new_key, app, old.kind)
        await to_thread.run_sync(self._apps.revoke_key, app, key_id)
        await self._audit(actor, "key.rotate", app_name, old_key_id=key_id, key_id=record.id)
        return record, plaintext

    async def audit_log(self, limit: int) -> list[AuditEntry]:
        return await to_thread.run_sync(lambda: self._store.admin.audit_log(limit=limit))

    async def run_retention(self, actor: str) -> dict[str, dict[str, int]]:
        """Delete what each app's ``security.retention_days`` says is too old."""
        deleted: dict[str, dict[str, int]] = {}
        for app in self._apps.all():
            days = app.config.security.retention_days
            if days <= 0:
                continue
            cutoff = utcnow() - timedelta(days=days)
            deleted[app.name] = await to_thread.run_sync(
                self._store.admin.purge_before, app.id, cutoff
            )
            deleted[app.name]["files"] = await to_thread.run_sync(
                purge_files_before, self._store, self._apps.data_dir, app.id, cutoff
            )
            deleted[app.name]["offers"] = await to_thread.run_sync(
                self._store.proactive.forget_offers_before, app.id, cutoff
            )
        await self._audit(actor, "retention.run", "*", deleted=deleted)
        return deleted

    async def _audit(self, actor: str, action: str, target: str, **details: Any) -> None:
        await to_thread.run_sync(lambda: self._store.admin.audit(actor, action, target, **details))
