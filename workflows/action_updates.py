"""The update of one case action, defined once for all of them.

Every agent and customer action is a Temporal update of the case with the same two halves: a
validator that asks the case machine's `refusal` (the case's `_check`: a refused action is rejected
before it is recorded) and a body that applies it and answers a receipt (`_take`). Writing the
pair by hand for each of 16 actions made the workflow file a list of near-copies, where one could
differ from the others by mistake; here the pair is made from the action's row in
`support.case.action_table` (its update's name, its model, whether it keeps a thread message), and
`with_action_updates` puts one on the workflow class for every row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from support.case.action_receipt import ActionReceipt
    from support.case.action_table import ACTIONS
    from support.case.effects import Decision
    from workflows.thread_writes import keep


class _Case(Protocol):
    def _take(self, action: Any) -> tuple[Decision, ActionReceipt]: ...

    def _check(self, action: BaseModel) -> None: ...


def action_update(name: str, model: type[BaseModel], *, kept: bool = False) -> Any:
    """The update `name` taking a `model`: `_check` validates it, `_take` carries it out. `kept`:
    the action writes a thread message, and the update answers once it is kept
    (workflows.thread_writes). The functions carry the model as their argument's type, which is
    what the SDK decodes the payload into."""
    if kept:

        async def take_kept(self: _Case, action: Any) -> ActionReceipt:
            decision, taken = self._take(action)
            await keep(decision)
            return taken

        handler: Callable[..., Any] = take_kept
    else:

        def take(self: _Case, action: Any) -> ActionReceipt:
            return self._take(action)[1]

        handler = take

    def check(self: _Case, action: Any) -> None:
        self._check(action)

    for function, returns in ((handler, ActionReceipt), (check, None)):
        function.__annotations__ = {"action": model, "return": returns}
        function.__name__ = function.__qualname__ = name if function is handler else f"_check_{name}"
    update = workflow.update(name=name)(handler)
    update.validator(check)
    return update


W = TypeVar("W", bound=type)


def with_action_updates(cls: W) -> W:
    """The workflow class with one update per row of `support.case.action_table`, under the row's update
    name (applied before `workflow.defn`, which collects the class's updates)."""
    for row in ACTIONS:
        setattr(cls, row.update, action_update(row.update, row.model, kept=row.kept))
    return cls
