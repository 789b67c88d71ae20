"""Every patch id the case's code decides on (`workflow.patched`, or `case.patched` in the rules of
support/, which the workflow hands `workflow.patched`), why it exists, and the recorded history that
shows the case taking it.

A running case replays its history on every worker: a change to the commands the workflow sends
must keep old histories on their old path behind a patch id (CONTRIBUTING.md, "Changing the
workflow safely"). `tests/unit/test_patches.py` fails for an id in the code that is not listed here,
for a listed id the code no longer uses, and for a history that does not record the patch it is
listed for, so this list stays the one place that says what each patch is for.

support/ cannot import from workflows/ (the layers), so the rules keep their ids as constants of
their own module; the workflow's own ids are the constants below.

A new case pays for all of them once (issue 26). Each `workflow.patched(id)` costs a new case a
marker and a `TemporalChangeVersion` upsert; `workflow.deprecate_patch` costs the same (measured:
`python -m bench.patch_cost`), and removing a patch outright means cases that took its old side
can no longer replay. So the patches up to `RELEASE_PATCH` are folded into it: a case asks it
first, and a case that has it (every case started by this code or later) takes every folded
patch's new side without asking, one marker in all. A case from before is told no during replay
(remembered for its run) and asks the folded patch as it always did: its history replays and its
behaviour is unchanged. A new patch is listed here as before, and folded at the next release.

Releases stack: each folds every patch listed before it (`FOLDED_2026_12`, `FOLDED_DERIVED`). A
new case asks the newest release only (one marker); a case recorded under an older release is told
no for the newer one during replay and asks its own release, as it always did.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

DRAIN_STARTED_DURING_WAIT_PATCH = "deliveries-started-while-draining-awaited"
OWN_QUEUE_PATCH = "deliveries-on-their-own-task-queue"
LOCAL_CONTEXT_PATCH = "context-local-activity"
RELEASE_PATCH = "patches-folded-2026-12"
DERIVED_RELEASE_PATCH = "patches-folded-2026-12-derived"


@dataclass(frozen=True)
class Patch:
    id: str
    reason: str
    # tests/histories/ file in which the case takes the patched path (its marker is recorded);
    # None when no recording takes it yet (then `old_path` says which one replays the old way).
    recorded_in: str | None
    old_path: str | None = None  # a history recorded before the patch, replaying the old way


PATCHES: tuple[Patch, ...] = (
    Patch(
        "superseded-sla-warnings-not-sent",
        "a warning reached when a later point of the same clock is already due is recorded in the "
        "timeline and not sent (the later notice says more); the history recorded before it sends "
        "all three and still replays",
        recorded_in="superseded_warnings_not_sent.json",
        old_path="late_timers_after_worker_outage.json",
    ),
    Patch(
        DRAIN_STARTED_DURING_WAIT_PATCH,
        "before continuing as new or ending, the case also waits for the deliveries that handlers "
        "started while it was waiting for the others (before, a burst of updates meeting a "
        "continue-as-new abandoned them)",
        recorded_in="burst_of_updates_continues_as_new.json",
    ),
    Patch(
        "assignee-search-attribute",
        "the first response sets AssignedEngineer to the responder; cases that responded before it "
        "replay without",
        recorded_in="team_case_withdrawn.json",
    ),
    Patch(
        "next-deadline-attribute",
        "the case sets NextDeadline and ClockPaused whenever its next deadline changes (the "
        "console's queue order), with the decision's own upsert when it has one",
        recorded_in="next_deadline_published.json",
    ),
    Patch(
        "obligations-answered-by-reply",
        "a customer's email reply answers the obligations still outstanding, as it answers the "
        "engineer's requests, so their reminders and downgrade timer stop; cases that took a reply "
        "before it keep their obligations outstanding and replay so (its history also has "
        "accept_obligation and ask_obligation_again)",
        recorded_in="obligations_answered_by_reply.json",
    ),
    Patch(
        "thread-messages-kept",
        "each message the case takes is numbered and kept in full in case_messages by a local "
        "activity keyed on (case, number), sealed with CASEWORK_ENCRYPTION_KEY when set (revision "
        "0011); the history holds a marker, not the text again, and the action's update answers "
        "once it is kept",
        recorded_in="thread_messages_kept.json",
    ),
    Patch(
        "reopen-by-reply",
        "a customer's reply to a resolved case within the reopen window reopens it "
        "([resolution] reopen_on_reply); cases from before list it only",
        recorded_in="reopened_by_reply.json",
    ),
    Patch(
        "waived-obligations-asked-again",
        "obligations waived by a downgrade are asked again when the severity goes back up",
        recorded_in="obligations_asked_again_after_upgrade.json",
    ),
    Patch(
        "unreachable-customer-tells-the-assignee",
        "a delivery to the customer's side that fails for good (or bounces later) tells the "
        "assignee and leaves the contact-data obligation not met",
        recorded_in="notification_bounced.json",
    ),
    Patch(
        OWN_QUEUE_PATCH,
        "notifications are delivered on <task queue>-deliveries with slots of their own, so "
        "opening a case never waits behind mail; older cases deliver on the case's queue",
        recorded_in="deliveries_on_their_own_queue.json",
    ),
    Patch(
        LOCAL_CONTEXT_PATCH,
        "the case's context (policy snapshot, tenant facts) is read by a local activity in its "
        "first task: one round trip through the server fewer per opening",
        recorded_in="context_read_in_the_first_task.json",
    ),
    Patch(
        "incident-attribute-in-the-opening-upsert",
        "an opening linked to an incident writes IncidentId in the opening's one search-attribute "
        "upsert instead of a second one; new with the release, so a new case never asks it and "
        "only a case started between the two would take its old side",
        recorded_in=None,
        old_path="intake_waits_for_decision.json",
    ),
    Patch(
        RELEASE_PATCH,
        "every patch above folded into one: a new case records one patch marker and one "
        "TemporalChangeVersion upsert, not one per behaviour change in the code's past (issue 26)",
        recorded_in="patches_folded.json",
    ),
    Patch(
        "attributes-and-wake-derived",
        "the case's search attributes are derived from its view after each decision and upserted "
        "once, only what changed (support.case.attributes), and the workflow wakes when the first "
        "item of its agenda changes, instead of upserts and wakes set by hand in each step; new "
        "with its release, so a new case never asks it by itself",
        recorded_in=None,
        old_path="patches_folded.json",
    ),
    Patch(
        DERIVED_RELEASE_PATCH,
        "every patch above folded into one, the derived attributes with them: a new case still "
        "records one patch marker",
        recorded_in="attributes_derived.json",
    ),
)


def _folded_by(release: str) -> frozenset[str]:
    """The patches a release folds: every one listed before it but the older release."""
    ids = [patch.id for patch in PATCHES]
    return frozenset(ids[: ids.index(release)]) - {RELEASE_PATCH}


FOLDED_2026_12 = _folded_by(RELEASE_PATCH)
FOLDED_DERIVED = _folded_by(DERIVED_RELEASE_PATCH)
# The folded patches: every listed one but the releases themselves.
FOLDED = FOLDED_DERIVED


def patched(patch_id: str) -> bool:
    """`workflow.patched`, with the folded patches asked as one: the newest release first (a new
    case records its marker only), then the one before it for cases recorded under that one.
    Every patch the code decides on is asked through here (tests/unit/test_patches.py)."""
    if patch_id in FOLDED_DERIVED and workflow.patched(DERIVED_RELEASE_PATCH):
        return True
    if patch_id in FOLDED_2026_12 and workflow.patched(RELEASE_PATCH):
        return True
    return workflow.patched(patch_id)  # the one call with a variable id (the scan skips it)
