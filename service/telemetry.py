"""The SDK runtime: Prometheus metrics on METRICS_PORT (SDK metrics and casework's own)."""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from service.settings import Settings


def make_runtime(settings: Settings) -> Runtime:
    if settings.metrics_port is None:
        return Runtime.default()
    bind = f"{settings.metrics_host}:{settings.metrics_port}"
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind)))
