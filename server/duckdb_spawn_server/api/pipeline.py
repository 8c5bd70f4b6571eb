"""Every RPC's cross-cutting steps, compiled once per method into one asyncio handler.

grpc.aio runs each call as a coroutine on one event loop, so a call that
waits (an idle stream, a query in the executor, a write in the group
commit) costs no thread. The steps below were seven interceptors, each
paying per call for its own wrapping; here everything that depends only on
the method (its role, its quietness, its metric children, whether it is
capped) is decided once, and the per-call work is what must be per call:

1. admission: the unary cap (`GRPC_MAX_CONCURRENT_RPCS`) or the stream cap
   (`GRPC_MAX_CONCURRENT_STREAMS`); health is never capped. Refusals are
   answered at once and neither logged nor counted;
2. the correlation id (`x-request-id`): the client's or a new one, returned
   in the trailers and attached to every log line of the call;
3. metrics and the access log, with the call's final status code;
4. the drain gate: after SIGTERM new calls get UNAVAILABLE, and calls still
   running when the grace period ends are answered UNAVAILABLE too (never
   CANCELLED, which clients do not retry);
5. authentication, authorisation, rate limit and audit;
6. undecodable request bodies: INVALID_ARGUMENT;
7. the servicer; domain errors become statuses with `google.rpc` details,
   anything else is a bug answered with a bare INTERNAL.

Client streams are read through an iterator that counts messages, refuses
undecodable ones and ends an idle stream after `STREAM_IDLE_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor

from ..domain.access import Principal
from ..domain.errors import DeadlineExceeded, DomainError, ResourceExhausted
from ..observability.correlation import set_correlation_id
from ..observability.grpc_metrics import GrpcServerMetrics, MethodMetrics, method_type
from ..observability.logging_setup import stack_without_message
from .access_log import AccessLog, correlation_id
from .admission import Admission, Cap
from .auth import CallGuard, GuardedMethod
from .decoding import RefusalLog, UndecodableRequest, malformed, tolerant
from .drain import DrainGate
from .errors import code_for, internal_status, status_for

log = logging.getLogger(__name__)

HEALTH_SERVICE = "grpc.health.v1.Health"
QUIET_SERVICES = (HEALTH_SERVICE, "grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection")
IDLE_VARIABLE = "STREAM_IDLE_TIMEOUT"
MESSAGE_SIZE_VARIABLE = "GRPC_MAX_MESSAGE_BYTES"
_OK = grpc.StatusCode.OK

Behavior = Callable[..., Any]


# Long-lived streams counted against MAX_WATCHERS instead of the streams' cap.
WATCH_METHODS = frozenset({"WatchProjects"})


@dataclass(frozen=True)
class MethodPolicy:
    """What the pipeline needs to know about one method, decided before its first call."""

    path: str  # /package.Service/Method
    quiet: bool  # health and reflection: success logged at DEBUG; never refused by the drain
    cap: Cap | None  # None: never refused for capacity (health)
    guarded: GuardedMethod | None  # None: no credentials needed, no rate limit (health)
    metrics: MethodMetrics
    client_streaming: bool
    server_streaming: bool
    check_response_size: bool


@dataclass(frozen=True)
class PipelineSettings:
    max_message_bytes: int
    stream_idle_timeout: float  # seconds between client messages before a stream is ended


class _Call:
    """One call's state from admission to its access-log line."""

    __slots__ = ("code", "correlation", "error", "metadata", "peer", "principal", "started", "task")

    def __init__(self, metadata: tuple[tuple[str, Any], ...], correlation: str, peer: str, started: float) -> None:
        self.metadata = metadata
        self.correlation = correlation
        self.peer = peer
        self.started = started
        self.code = _OK
        self.error: BaseException | None = None
        self.task: asyncio.Task[Any] | None = None
        self.principal: Principal | None = None


class CallPipeline:
    def __init__(self, *, admission: Admission, drain: DrainGate, guard: CallGuard | None,
                 metrics: GrpcServerMetrics, settings: PipelineSettings) -> None:
        self.admission = admission
        self.drain = drain
        self.guard = guard
        self.metrics = metrics
        self.settings = settings
        self.access_log = AccessLog()
        self._refusals = RefusalLog()

    # -- compiling ---------------------------------------------------------------------------
    def policy(self, method: MethodDescriptor, *, large_responses: bool = False) -> MethodPolicy:
        service = method.containing_service.full_name
        path = f"/{service}/{method.name}"
        streaming = method.client_streaming or method.server_streaming
        health = service == HEALTH_SERVICE
        return MethodPolicy(
            path=path, quiet=service in QUIET_SERVICES,
            cap=None if health else self._cap(method.name, streaming),
            guarded=None if health or self.guard is None else self.guard.method(path),
            metrics=self.metrics.method(method_type(method), service, method.name),
            client_streaming=method.client_streaming, server_streaming=method.server_streaming,
            check_response_size=large_responses)

    def _cap(self, method: str, streaming: bool) -> Cap:
        if method in WATCH_METHODS:
            return self.admission.watchers
        return self.admission.streams if streaming else self.admission.unary

    def handler(self, method: MethodDescriptor, behavior: Behavior, deserializer: Callable[[bytes], Any],
                serializer: Callable[[Any], bytes], *, large_responses: bool = False) -> grpc.RpcMethodHandler:
        policy = self.policy(method, large_responses=large_responses)
        request_deserializer = tolerant(deserializer, policy.path, self._refusals)
        if policy.client_streaming and policy.server_streaming:
            return grpc.stream_stream_rpc_method_handler(self._stream_out(policy, behavior), request_deserializer,
                                                         serializer)
        if policy.client_streaming:
            return grpc.stream_unary_rpc_method_handler(self._unary_out(policy, behavior), request_deserializer,
                                                        serializer)
        if policy.server_streaming:
            return grpc.unary_stream_rpc_method_handler(self._stream_out(policy, behavior), request_deserializer,
                                                        serializer)
        return grpc.unary_unary_rpc_method_handler(self._unary_out(policy, behavior), request_deserializer,
                                                   serializer)

    # -- one response --------------------------------------------------------------------------
    def _unary_out(self, policy: MethodPolicy, behavior: Behavior) -> Callable[..., Awaitable[Any]]:
        cap, metrics, admission = policy.cap, policy.metrics, self.admission
        begin, accept, fail, end = self._begin, self._accept, self._fail, self._end

        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if cap is not None and not admission.enter(cap):
                await _abort(context, status_for(admission.refusal(cap)), None)
            call = begin(policy, context)
            try:
                request = accept(policy, call, context, request)
                response = await behavior(request, context)
                if policy.check_response_size:
                    self._check_size(response)
                context.set_trailing_metadata(((AccessLog.HEADER, call.correlation),))
                metrics.sent.inc()
                return response
            except BaseException as raised:  # noqa: BLE001 - every outcome is answered and counted here
                await fail(policy, call, context, raised)
            finally:
                end(policy, call, request)

        return handle

    # -- a response stream ---------------------------------------------------------------------
    def _stream_out(self, policy: MethodPolicy, behavior: Behavior) -> Callable[..., AsyncIterator[Any]]:
        cap, metrics, admission = policy.cap, policy.metrics, self.admission
        begin, accept, fail, end = self._begin, self._accept, self._fail, self._end

        async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if cap is not None and not admission.enter(cap):
                await _abort(context, status_for(admission.refusal(cap)), None)
            call = begin(policy, context)
            try:
                request = accept(policy, call, context, request)
                context.set_trailing_metadata(((AccessLog.HEADER, call.correlation),))
                async for response in behavior(request, context):
                    if policy.check_response_size:
                        self._check_size(response)
                    metrics.sent.inc()
                    yield response
            except BaseException as raised:  # noqa: BLE001 - every outcome is answered and counted here
                await fail(policy, call, context, raised)
            finally:
                end(policy, call, request)

        return handle

    # -- what every call goes through --------------------------------------------------------------
    def _begin(self, policy: MethodPolicy, context: grpc.aio.ServicerContext) -> _Call:
        metadata = context.invocation_metadata() or ()
        correlation = correlation_id(metadata)
        set_correlation_id(correlation)
        # The peer is read now: grpc frees its string with the transport, which a cancelled call outlives.
        call = _Call(metadata, correlation, context.peer(), time.perf_counter())
        policy.metrics.start()
        return call

    def _accept(self, policy: MethodPolicy, call: _Call, context: grpc.aio.ServicerContext, request: Any) -> Any:
        """Lets the call in (drain gate, caller admitted) and gives what to serve: the request, or the
        client's message stream."""
        call.task = self.drain.enter(not policy.quiet)
        if policy.guarded is not None:
            assert self.guard is not None
            call.principal = self.guard.admit(policy.guarded, context, call.peer, request, call.metadata)
        if policy.client_streaming:
            return self._messages(request, policy.metrics, context)
        policy.metrics.received.inc()
        if type(request) is UndecodableRequest:
            raise malformed(request)
        return request

    async def _fail(self, policy: MethodPolicy, call: _Call, context: grpc.aio.ServicerContext,
                    raised: BaseException) -> None:
        call.error = raised
        call.code = self._code_for(raised, context, call.task)
        await self._answer(policy, context, raised, call.correlation, call.task)

    def _end(self, policy: MethodPolicy, call: _Call, request: Any) -> None:
        self.drain.leave(call.task)
        if policy.cap is not None:
            self.admission.leave(policy.cap)
        policy.metrics.finish(call.code, time.perf_counter() - call.started)
        if policy.guarded is not None and policy.guarded.audited:
            assert self.guard is not None
            self.guard.audit(policy.guarded, call.peer, request, call.code, call.error, call.principal)
        self.access_log.finished(policy.path, policy.quiet, call.peer, call.metadata, call.correlation, call.code,
                                 call.started)

    # -- outcomes ----------------------------------------------------------------------------------
    def _code_for(self, raised: BaseException, context: grpc.aio.ServicerContext,
                  task: asyncio.Task[Any] | None) -> grpc.StatusCode:
        """The status code the call ends with, for metrics, the access log and the audit."""
        if isinstance(raised, DomainError):
            return code_for(raised)
        if isinstance(raised, grpc.aio.AbortError):
            return context.code() or grpc.StatusCode.UNKNOWN
        if isinstance(raised, asyncio.CancelledError | GeneratorExit):
            if task is not None and self.drain.cancelled_by_drain(task):
                return grpc.StatusCode.UNAVAILABLE
            remaining = context.time_remaining()
            return grpc.StatusCode.DEADLINE_EXCEEDED if remaining is not None and remaining <= 0 \
                else grpc.StatusCode.CANCELLED
        return grpc.StatusCode.INTERNAL if isinstance(raised, Exception) else grpc.StatusCode.CANCELLED

    async def _answer(self, policy: MethodPolicy, context: grpc.aio.ServicerContext, raised: BaseException,
                      correlation: str, task: asyncio.Task[Any] | None) -> None:
        """Ends the call for `raised`: an abort with the right status, or `raised` itself for grpc to see."""
        if isinstance(raised, DomainError):
            await _abort(context, status_for(raised), correlation)
        if isinstance(raised, asyncio.CancelledError) and task is not None and self.drain.cancelled_by_drain(task):
            # Still running when the grace period ended: retryable, never CANCELLED.
            await _abort(context, status_for(self.drain.refusal()), correlation)
        if isinstance(raised, Exception) and not isinstance(raised, grpc.aio.AbortError):
            # The message may quote request values: only its type and place go out at ERROR.
            log.error("unhandled error in %s: %s", policy.path, type(raised).__name__,
                      extra={"stack": stack_without_message(raised)})
            log.debug("unhandled error in %s", policy.path, exc_info=raised)
            await _abort(context, internal_status(correlation), correlation)
        raise raised  # aborts, cancellations and GeneratorExit: grpc ends the call

    async def _messages(self, requests: AsyncIterator[Any], metrics: MethodMetrics,
                        context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        """The client's messages: counted, decodable, and ended when the client idles too long.

        A stream the client cancelled ends, for grpc.aio, like one it finished: that must never
        read as "all messages sent" (an import would commit what it had), so it raises instead.
        """
        idle = self.settings.stream_idle_timeout
        iterator = requests.__aiter__()
        while True:
            try:
                message = await asyncio.wait_for(iterator.__anext__(), idle)
            except StopAsyncIteration:
                if context.cancelled() or context.done():
                    raise asyncio.CancelledError("the client cancelled the stream") from None
                return
            except TimeoutError:
                raise DeadlineExceeded(
                    f"no message arrived on this stream for {idle:g} seconds ({IDLE_VARIABLE}); the stream "
                    "was ended", reason="STREAM_IDLE_TIMEOUT", metadata={"variable": IDLE_VARIABLE}) from None
            metrics.received.inc()
            if type(message) is UndecodableRequest:
                raise malformed(message)
            yield message

    def _check_size(self, response: Any) -> None:
        size = len(response) if type(response) is bytes else response.ByteSize()
        if size > self.settings.max_message_bytes:
            raise ResourceExhausted(
                f"the response would be {size} bytes, more than {MESSAGE_SIZE_VARIABLE}="
                f"{self.settings.max_message_bytes}; ask for less (a smaller page_size, a narrower filter)",
                limit=MESSAGE_SIZE_VARIABLE, reason="RESPONSE_TOO_LARGE")


async def _abort(context: grpc.aio.ServicerContext, status: grpc.Status, correlation: str | None) -> None:
    trailers = tuple(status.trailing_metadata or ())
    if correlation is not None:
        trailers += ((AccessLog.HEADER, correlation),)
    await context.abort(status.code, status.details, trailers)
