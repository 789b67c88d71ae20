"""Patches a new case pays for once (issue 26).

Each `workflow.patched(id)` costs a new case a marker and a `TemporalChangeVersion` upsert, two
events and two billed actions, for every behaviour change in the code's past: six of them made 12
of a lifecycle case's 35 actions. `workflow.deprecate_patch` costs a new execution the same (a
marker and an upsert each: measured, docs/incoming/cost.md), and removing a patch outright means
cases that took its old side can no longer replay.

So the patches of the code up to `RELEASE_PATCH` are folded into it: a case asks it first, and a
case that has it (every case started by this code or later) takes every folded patch's new side
without asking for it, one marker in all. A case from before asks it during replay, is told no
(remembered for its run), and asks the folded patch as it always did: its history replays and its
behaviour is unchanged. A new patch is added as before, and folded at the next release.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from support.customer_requests import OBLIGATIONS_ANSWERED_BY_REPLY_PATCH, UNREACHABLE_CUSTOMER_PATCH
    from support.next_deadline import NEXT_DEADLINE_PATCH
    from support.opening import INCIDENT_IN_THE_OPENING_UPSERT_PATCH
    from support.resolution import REOPEN_BY_REPLY_PATCH
    from support.responses import ASSIGNEE_ATTRIBUTE_PATCH
    from support.severity_changes import OBLIGATIONS_ASKED_AGAIN_PATCH
    from support.sla_checkpoints import SUPERSEDED_WARNINGS_PATCH
    from support.thread import THREAD_PATCH

RELEASE_PATCH = "patches-folded-2026-12"
# Every patch id this code asks for (workflows/ and support/), the new side of which a case with
# `RELEASE_PATCH` takes: tests/test_patches.py checks that none is left out.
FOLDED = frozenset(
    {
        "context-local-activity",  # workflows.case_opening.LOCAL_CONTEXT_PATCH
        "deliveries-on-their-own-task-queue",  # workflows.deliveries.OWN_QUEUE_PATCH
        "deliveries-started-while-draining-awaited",  # workflows.deliveries
        ASSIGNEE_ATTRIBUTE_PATCH,
        NEXT_DEADLINE_PATCH,
        THREAD_PATCH,
        REOPEN_BY_REPLY_PATCH,
        OBLIGATIONS_ANSWERED_BY_REPLY_PATCH,
        UNREACHABLE_CUSTOMER_PATCH,
        OBLIGATIONS_ASKED_AGAIN_PATCH,
        SUPERSEDED_WARNINGS_PATCH,
        INCIDENT_IN_THE_OPENING_UPSERT_PATCH,  # new with the release: a new case never asks it
    }
)


def patched(patch_id: str) -> bool:
    """`workflow.patched`, with the folded patches asked as one (`RELEASE_PATCH`)."""
    if patch_id in FOLDED and workflow.patched(RELEASE_PATCH):
        return True
    return workflow.patched(patch_id)
