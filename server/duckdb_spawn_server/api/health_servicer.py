"""grpc.health.v1.Health on the event loop, answering from `HealthState`.

Check reads the current status (NOT_FOUND for a name the server does not
know, as the standard servicer does); List gives every status; Watch sends the current status, then
each change, for as long as the client listens. Changes come from other
threads and reach each watcher through the loop, so a watcher costs a
coroutine and a queue, never a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health_pb2

from ..observability.health import HealthState


class HealthServicer:
    def __init__(self, state: HealthState) -> None:
        self._state = state

    async def Check(self, request: health_pb2.HealthCheckRequest,
                    context: grpc.aio.ServicerContext) -> health_pb2.HealthCheckResponse:
        status = self._state.status(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service[:100]!r}")
        return health_pb2.HealthCheckResponse(status=status)

    async def List(self, request: health_pb2.HealthListRequest,
                   context: grpc.aio.ServicerContext) -> health_pb2.HealthListResponse:
        response = health_pb2.HealthListResponse()
        for service, status in self._state.statuses().items():
            response.statuses[service].status = status
        return response

    async def Watch(self, request: health_pb2.HealthCheckRequest,
                    context: grpc.aio.ServicerContext) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()
        service = request.service

        def notify(name: str, _status: int) -> None:
            if name == service:
                loop.call_soon_threadsafe(changed.set)

        unsubscribe = self._state.subscribe(notify)
        try:
            last = None
            while True:
                changed.clear()
                status = self._state.status(service)
                status = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN if status is None else status
                if status != last:
                    yield health_pb2.HealthCheckResponse(status=status)
                    last = status
                await changed.wait()
        finally:
            unsubscribe()
