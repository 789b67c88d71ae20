"""Counting a client's round trips to the Temporal server, by kind, without touching the code
that makes them: a client interceptor on a copy of the client (the same connection), handed to
the gateway. The lifecycle bench reports them per case and per engineer action; a test asserts
that an action costs one."""

from __future__ import annotations

from collections import Counter
from typing import Any

from temporalio import client as temporal

# The outbound calls a case's caller makes (each one request to the server, or a long poll).
COUNTED = (
    "start_workflow",
    "start_workflow_update",
    "start_update_with_start_workflow",
    "signal_workflow",
    "query_workflow",
    "describe_workflow",
    "fetch_workflow_history_events",
    "count_workflows",
    "list_workflows",
)


class RoundTrips(temporal.Interceptor):
    """The calls the client made, by the interceptor method's name (`COUNTED`)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def intercept_client(self, next: temporal.OutboundInterceptor) -> temporal.OutboundInterceptor:
        return _Counting(next, self.calls)

    def total(self) -> int:
        return sum(self.calls.values())


class _Counting(temporal.OutboundInterceptor):
    def __init__(self, next: temporal.OutboundInterceptor, calls: Counter[str]) -> None:
        super().__init__(next)
        for name in COUNTED:
            setattr(self, name, _counted(getattr(next, name), name, calls))


def _counted(call: Any, name: str, calls: Counter[str]) -> Any:
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return call(*args, **kwargs)

    return counted


def counted_client(client: temporal.Client) -> tuple[temporal.Client, RoundTrips]:
    """A client on the same connection whose calls are counted."""
    trips = RoundTrips()
    config = client.config()
    config["interceptors"] = [*config["interceptors"], trips]
    return temporal.Client(**config), trips
