"""How many calls run at once: unary calls and streams each have their own cap.

grpc's own `maximum_concurrent_rpcs` answers with a bare status (no
ErrorInfo, no hint which setting), so the caps are enforced here and grpc's
is only a backstop above them (api/server.py). Streams have a cap of their
own so that long-lived streams (imports, exports, watches) can never take
the capacity unary calls need; health checks are never capped, so probes
see the truth under any load. All of it runs on the event loop: plain
counters, no locks.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.errors import ResourceExhausted


@dataclass
class Cap:
    limit: int
    variable: str  # the setting that raises it, named in every refusal
    what: str
    active: int = 0


class Admission:
    def __init__(self, max_unary: int, max_streams: int, max_watchers: int = 1000) -> None:
        self.unary = Cap(max_unary, "GRPC_MAX_CONCURRENT_RPCS", "concurrent calls")
        self.streams = Cap(max_streams, "GRPC_MAX_CONCURRENT_STREAMS", "concurrent streams")
        # Watches last for hours: a cap of their own, so they never take the bulk streams' capacity.
        self.watchers = Cap(max_watchers, "MAX_WATCHERS", "watch streams")

    @staticmethod
    def enter(cap: Cap) -> bool:
        if cap.active >= cap.limit:
            return False
        cap.active += 1
        return True

    @staticmethod
    def leave(cap: Cap) -> None:
        cap.active -= 1

    @staticmethod
    def refusal(cap: Cap) -> ResourceExhausted:
        return ResourceExhausted(f"the server is handling its maximum of {cap.limit} {cap.what} ({cap.variable}); "
                                 "retry shortly", limit=cap.variable, reason="TOO_MANY_CONCURRENT_RPCS",
                                 retry_after_seconds=0.1)

    @property
    def in_flight(self) -> int:
        return self.unary.active + self.streams.active + self.watchers.active
