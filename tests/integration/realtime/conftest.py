"""Gateway fixtures: a gateway on an ephemeral port beside the test app, and its members."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.helpers.accounts import Member, register
from tests.helpers.app import app_ctx
from tests.helpers.gateway import GatewayFactory, make_registry
from townsquare.context import AppContext
from townsquare.infra.bus import make_bus
from townsquare.realtime import Gateway


@pytest.fixture
async def ctx(client: httpx.AsyncClient) -> AppContext:
    """The app's context: the gateway shares its database, bus and presence."""
    return app_ctx(client)


@pytest.fixture
async def start_gateway(ctx: AppContext) -> AsyncIterator[GatewayFactory]:
    """Start gateways on ephemeral ports; `second_node=True` gives it its own Redis bus."""
    started: list[Gateway] = []
    own_buses: list[Any] = []

    async def factory(
        *, second_node: bool = False, context: AppContext | None = None, **overrides: Any
    ) -> tuple[Gateway, str]:
        gw_ctx = context or ctx
        if overrides:
            gw_ctx = dataclasses.replace(
                gw_ctx, settings=gw_ctx.settings.model_copy(update=overrides)
            )
        if second_node:
            assert gw_ctx.settings.redis_url, "a second node needs Redis"
            bus = make_bus(gw_ctx.settings.redis_url, prefix=getattr(ctx.bus, "prefix", "ts:"))
            await bus.start()
            own_buses.append(bus)
            gw_ctx = dataclasses.replace(gw_ctx, bus=bus)
        gw = Gateway(
            gw_ctx, registry=make_registry(), metrics_registry=CollectorRegistry(), freeze_gc=False
        )
        port = await gw.start("127.0.0.1", 0)
        started.append(gw)
        return gw, f"http://127.0.0.1:{port}"

    yield factory
    for gw in started:
        await gw.stop()
    for bus in own_buses:
        await bus.close()


@pytest.fixture
async def gateway(start_gateway: GatewayFactory) -> tuple[Gateway, str]:
    return await start_gateway()


@pytest.fixture
async def member(client: httpx.AsyncClient) -> Member:
    return await register(client)
