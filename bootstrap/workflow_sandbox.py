"""The worker's workflow sandbox: the SDK's own (`SandboxedWorkflowRunner`, every restriction
kept), with the small snippets it runs inside each case's sandbox compiled once per process.

Why (issue 26, replays per second): the SDK enters a case's sandbox by `exec` of a source string,
not only once per activation but for every payload sequence it converts (`get_serialization_context`,
three visits each way), and `exec` of a string compiles it every time. The replay profile
(`bench.replay_rate`, py-spy) put that compilation at ~13 % of a replay's CPU. The strings are the
same few for a workflow type, so their code objects are cached; what runs, and in which globals,
is unchanged (tests/workflow/test_worker_sandbox.py still sees `datetime.now()` refused).

This reaches into the SDK's private `_Instance` (temporalio 1.35): pinned by pyproject's range, and
checked by tests/workflow/test_worker_sandbox.py and every recorded history's replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import CodeType
from typing import Any

from temporalio.converter import SerializationContext, StorageDriverStoreContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._in_sandbox import InSandbox
from temporalio.worker.workflow_sandbox._runner import _Instance


@lru_cache(maxsize=256)  # a few strings per workflow type (the module and class name are in some)
def compiled(source: str) -> CodeType:
    """The code object `exec(source)` would compile, compiled once."""
    return compile(source, "<string>", "exec")


class _CompiledOnce(_Instance):
    def _run_code(self, code: str, **extra_globals: Any) -> None:
        super()._run_code(compiled(code), **extra_globals)  # type: ignore[arg-type]  # exec takes either

    # Which command a payload belongs to (the codec's and external storage's context) is the SDK's
    # own bookkeeping on the instance (pending activities, children, signals): no workflow code runs
    # and nothing is imported, so it is asked directly instead of entering the sandbox (its import
    # hook and builtins swapped in and out) for every payload sequence of every activation.
    def get_serialization_context(self, command_info: CommandInfo | None) -> SerializationContext | None:
        return self._in_sandbox().get_serialization_context(command_info)

    def get_external_store_context(self, command_info: CommandInfo | None) -> StorageDriverStoreContext:
        return self._in_sandbox().get_external_store_context(command_info)

    def _in_sandbox(self) -> InSandbox:
        found = self.globals_and_locals["__temporal_in_sandbox"]
        assert isinstance(found, InSandbox)
        return found


@dataclass(frozen=True)
class CompiledSandboxRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner`, each case's sandbox entered with code compiled once."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _CompiledOnce(det, self.runner_class, self.restrictions)
