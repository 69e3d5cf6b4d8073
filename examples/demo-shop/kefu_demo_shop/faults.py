"""Test controls: slow or failing shop endpoints on demand (fault injection), and a reset of
the data as shipped, so a conversation test suite can run again against the same shop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter, Request

from kefu_demo_shop.errors import ShopError
from kefu_demo_shop.schemas import FaultSpec

__all__ = ["FaultSwitch", "fault_router"]


class FaultSwitch:
    """The one fault in force (or none); shared by the routes that set and apply it."""

    def __init__(self) -> None:
        self.current: FaultSpec | None = None

    async def apply(self, request: Request) -> None:
        """A route dependency: wait and/or fail as the fault in force says."""
        fault = self.current
        if fault is None or not fault.matches(request.url.path):
            return
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.status is not None:
            raise ShopError(
                fault.status, "injected_fault", f"Fault injected for {request.url.path}."
            )


def fault_router(switch: FaultSwitch, reset: Callable[[], object] | None = None) -> APIRouter:
    """``POST /_faults`` sets the fault, ``GET`` shows it, ``DELETE`` clears it; ``POST
    /_reset`` clears it and restores the shop's data as shipped (``reset``)."""
    router = APIRouter(tags=["faults"])

    @router.post("/_faults")
    async def set_fault(spec: FaultSpec) -> FaultSpec:
        switch.current = spec
        return spec

    @router.get("/_faults")
    async def show_fault() -> FaultSpec | None:
        return switch.current

    @router.delete("/_faults")
    async def clear_fault() -> dict[str, bool]:
        switch.current = None
        return {"cleared": True}

    if reset is not None:

        @router.post("/_reset")
        def reset_shop() -> dict[str, bool]:
            switch.current = None
            reset()
            return {"reset": True}

    return router
