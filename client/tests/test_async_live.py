"""AsyncClient against the real server: the same calls, awaited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from conftest import Account, Server, unique

import zevvy


def test_async_login_push_and_read_back(live_server: Server, account: Account) -> None:
    """Device-flow login, a bulk import, a 409 returned as a result, and exact read-back."""

    async def scenario() -> None:
        async with zevvy.AsyncClient(live_server.url, auth_url=live_server.auth_url) as client:
            authorization = await client.start_login()
            live_server.approve(authorization.user_code, account)
            tokens = await client.finish_login(authorization)
            assert "measurement" in tokens.scopes
            ref = unique("async")
            start = datetime(2024, 6, 3, tzinfo=UTC)
            readings = [(start + timedelta(minutes=15 * i), Decimal("100.000001") + i) for i in range(4)]
            created = await client.bulk_create(ref, "energy", readings)
            assert created.created == 4
            conflict = await client.bulk_create(ref, "energy", [(start, 1)])
            assert (conflict.conflicts, conflict.status_code) == (1, 409)
            device = await client.get_device_by_reference(ref)
            registers = [r async for r in client.iter_registers(device.id)]
            values = [m.value async for m in client.iter_measurements(registers[0].id)]
            assert values == [v for _, v in readings]
            await client.logout()
            assert client.token_store.load() is None

    asyncio.run(scenario())
