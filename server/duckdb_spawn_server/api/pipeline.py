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
            cap=None if health else (self.admission.streams if streaming else self.admission.unary),
            guarded=None if health or self.guard is None else self.guard.method(path),
            metrics=self.metrics.method(method_type(method), service, method.name),
            client_streaming=method.client_streaming, server_streaming=method.server_streaming,
            check_response_size=large_responses)

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
        cap, metrics, guarded, quiet = policy.cap, policy.metrics, policy.guarded, policy.quiet
        admission, drain, guard = self.admission, self.drain, self.guard
        client_streaming = policy.client_streaming

        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if cap is not None and not admission.enter(cap):
                await _abort(context, status_for(admission.refusal(cap)), None)
            metadata = context.invocation_metadata() or ()
            correlation = correlation_id(metadata)
            set_correlation_id(correlation)
            started = time.perf_counter()
            metrics.start()
            code = _OK
            error: BaseException | None = None
            task = None
            principal = None
            try:
                task = drain.enter(not quiet)
                if guarded is not None:
                    assert guard is not None
                    principal = guard.admit(guarded, context, request, metadata)
                if client_streaming:
                    request = self._messages(request, metrics, context)
                else:
                    metrics.received.inc()
                    if type(request) is UndecodableRequest:
                        raise malformed(request)
                response = await behavior(request, context)
                if policy.check_response_size:
                    self._check_size(response)
                context.set_trailing_metadata(((AccessLog.HEADER, correlation),))
                metrics.sent.inc()
                return response
            except BaseException as raised:  # noqa: BLE001 - every outcome is answered and counted here
                error = raised
                code = self._code_for(raised, context, task)
                await self._answer(policy, context, raised, correlation, task)
            finally:
                drain.leave(task)
                if cap is not None:
                    admission.leave(cap)
                metrics.finish(code, time.perf_counter() - started)
                if guarded is not None and guarded.audited:
                    assert guard is not None
                    guard.audit(guarded, context, request, code, error, principal)
                self.access_log.finished(policy.path, policy.quiet, context, metadata, correlation, code, started)

        return handle

    # -- a response stream ---------------------------------------------------------------------
    def _stream_out(self, policy: MethodPolicy, behavior: Behavior) -> Callable[..., AsyncIterator[Any]]:
        cap, metrics, guarded, quiet = policy.cap, policy.metrics, policy.guarded, policy.quiet
        admission, drain, guard = self.admission, self.drain, self.guard
        client_streaming = policy.client_streaming

        async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if cap is not None and not admission.enter(cap):
                await _abort(context, status_for(admission.refusal(cap)), None)
            metadata = context.invocation_metadata() or ()
            correlation = correlation_id(metadata)
            set_correlation_id(correlation)
            started = time.perf_counter()
            metrics.start()
            code = _OK
            error: BaseException | None = None
            task = None
            principal = None
            try:
                task = drain.enter(not quiet)
                if guarded is not None:
                    assert guard is not None
                    principal = guard.admit(guarded, context, request, metadata)
                if client_streaming:
                    request = self._messages(request, metrics, context)
                else:
                    metrics.received.inc()
                    if type(request) is UndecodableRequest:
                        raise malformed(request)
                context.set_trailing_metadata(((AccessLog.HEADER, correlation),))
                async for response in behavior(request, context):
                    if policy.check_response_size:
                        self._check_size(response)
                    metrics.sent.inc()
                    yield response
            except BaseException as raised:  # noqa: BLE001 - every outcome is answered and counted here
                error = raised
                code = self._code_for(raised, context, task)
                await self._answer(policy, context, raised, correlation, task)
            finally:
                drain.leave(task)
                if cap is not None:
                    admission.leave(cap)
                metrics.finish(code, time.perf_counter() - started)
                if guarded is not None and guarded.audited:
                    assert guard is not None
                    guard.audit(guarded, context, request, code, error, principal)
                self.access_log.finished(policy.path, policy.quiet, context, metadata, correlation, code, started)

        return handle

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
