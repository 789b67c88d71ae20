"""OpenTelemetry tracing through the SDK's plugin: off unless CASEWORK_TRACING says otherwise.

`CASEWORK_TRACING=console` prints spans (workflow, activities, updates, signals) to stderr; a
deployment that has its own OpenTelemetry exporter installed adds its span processor to the
provider returned by `tracer_provider()`. Needs the `tracing` extra (opentelemetry-sdk).
"""

from __future__ import annotations

from typing import Any

_provider: Any = None


def tracer_provider() -> Any:
    """The process-wide replay-safe tracer provider (created once, registered globally)."""
    global _provider
    if _provider is None:
        from opentelemetry import trace
        from temporalio.contrib.opentelemetry import create_tracer_provider

        _provider = create_tracer_provider()
        trace.set_tracer_provider(_provider)
    return _provider


def tracing_plugins(mode: str) -> list[Any]:
    """Worker plugins for the tracing mode: [] when off."""
    if mode in ("", "off"):
        return []
    try:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
        from temporalio.contrib.opentelemetry import OpenTelemetryPlugin
    except ImportError:
        raise SystemExit(
            "CASEWORK_TRACING needs the tracing extra: .venv/bin/pip install -e '.[tracing]'"
        ) from None
    provider = tracer_provider()
    if mode == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif mode != "provider":
        raise SystemExit(f"CASEWORK_TRACING must be off, console or provider, not {mode!r}")
    return [OpenTelemetryPlugin(add_temporal_spans=True)]
