"""Tracing through the SDK's OpenTelemetry plugin: spans for the case's workflow and activities."""

from __future__ import annotations

from datetime import timedelta

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.testing import WorkflowEnvironment

from adapters.settings import Settings
from adapters.tracing import tracer_provider, tracing_plugins
from tests.conftest import running_worker
from tests.requests import case_request


def test_tracing_is_off_unless_configured() -> None:
    assert tracing_plugins("off") == []


async def test_spans_for_workflow_and_activities(
    time_env: WorkflowEnvironment, settings: Settings, request_id: str
) -> None:
    exporter = InMemorySpanExporter()
    tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    traced = settings.replace(tracing="provider")
    async with running_worker(time_env.client, traced) as cases:
        opened = await cases.open(case_request(request_id, severity="B"))
        await time_env.sleep(timedelta(seconds=1))
        await cases.show(opened.case.case_id)
    names = [span.name for span in exporter.get_finished_spans()]
    # The workflow's own span ends with the case; while it runs, its activities are traced.
    assert "StartActivity:load_case_context" in names and "RunActivity:load_case_context" in names
    assert "StartActivity:deliver_notification" in names and "RunActivity:deliver_notification" in names
    assert "HandleUpdate:decided" in names, "the intake's wait for the decided case is traced"
    assert "HandleQuery:shown" in names, "a read of the case is one traced query"
