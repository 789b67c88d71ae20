"""The SDK runtime: Prometheus metrics on METRICS_PORT (SDK metrics and casework's own)."""

from __future__ import annotations

import errno

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from adapters.listeners import CannotListen, Listener
from adapters.settings import Settings

# Seconds from a minute to a week, with the policy's first-response targets as bounds (A 1 h, B one
# business day of 15 h = 54,000 s, C three = 162,000 s), so a response on either side of a target
# lands in a bucket of its own; the SDK's default buckets end at 10,000 s (B and C in +Inf).
FIRST_RESPONSE_BUCKETS = (
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 54000.0, 86400.0,
    162000.0, 259200.0, 432000.0, 604800.0,
)  # fmt: skip
HISTOGRAM_BUCKETS = {
    "casework_time_to_first_response": FIRST_RESPONSE_BUCKETS,
    "casework_business_time_to_first_response": FIRST_RESPONSE_BUCKETS,
}


def make_runtime(settings: Settings) -> Runtime:
    if settings.metrics_port is None:
        return Runtime.default()
    bind = f"{settings.metrics_host}:{settings.metrics_port}"
    prometheus = PrometheusConfig(bind_address=bind, histogram_bucket_overrides=HISTOGRAM_BUCKETS)
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=prometheus))
    except ValueError as error:  # the exporter binds when the runtime is made
        listener = Listener(
            "METRICS_PORT", "the Prometheus metrics", settings.metrics_host, settings.metrics_port
        )
        taken = errno.EADDRINUSE if "in use" in str(error) else 0
        raise CannotListen([listener.refusal(OSError(taken, str(error)))]) from None
