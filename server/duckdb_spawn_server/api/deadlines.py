"""The calling RPC's remaining time, so no downstream wait outlives it."""

from __future__ import annotations

import grpc


def remaining(context: grpc.ServicerContext, cap: float | None = None) -> float | None:
    """Seconds left before the client's deadline (None: no deadline), optionally capped."""
    left = context.time_remaining()
    if left is None or left > 10**9:  # grpc reports "no deadline" as a huge number
        return cap
    return max(0.0, left if cap is None else min(left, cap))
