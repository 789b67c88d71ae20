"""The one action table (support/case/action_table.py) and what is made from it: the workflow's updates
and the intake's routes. Pure: no server. The contract these pin (update names, argument and answer
types, HTTP paths, permissions) is what running cases, recorded histories and integrators rely on."""

from __future__ import annotations

from typing import get_args

from temporalio.workflow import _Definition

from application.actions import ACTIONS, CASE_ACTIONS
from support.case.action_receipt import ActionReceipt
from support.case.action_table import ACTIONS as ROWS
from support.case.action_table import BY_MODEL, is_action
from support.case.actions import Action, CustomerReply, FirstResponse
from support.case.events import DeliveryFailed, TimePassed
from support.case.machine import refusal
from support.identity.access import Permission
from tests.unit.test_case_machine import ENGINEER, open_case
from workflows.support_case import SupportCaseWorkflow

AGENT, CUSTOMER = Permission.AGENT_ACTION, Permission.CUSTOMER_ACTION

# (CLI command, POST /cases/{id}/<path>, workflow update, permission, actor field): as before the
# table moved to support/ (a5665d9), which clients, the console and recorded histories name.
ROUTES = [
    ("respond", "respond", "respond", AGENT, "engineer"),
    ("update", "updates", "update_customer", AGENT, "engineer"),
    ("ask", "customer-requests", "request_customer_action", AGENT, "engineer"),
    ("severity", "severity", "change_severity", AGENT, "engineer"),
    ("resolve", "resolve", "resolve", AGENT, "engineer"),
    ("assign", "assignment", "assign", AGENT, "engineer"),
    ("note", "notes", "note", AGENT, "engineer"),
    ("accept_obligation", "accepted-obligations", "accept_obligation", AGENT, "engineer"),
    ("ask_obligation_again", "obligations-asked-again", "ask_obligation_again", AGENT, "engineer"),
    ("reopen", "reopen", "reopen", CUSTOMER, None),
    ("cooperate", "cooperation", "answer_request", CUSTOMER, None),
    ("survey", "survey", "answer_survey", CUSTOMER, None),
    ("withdraw", "withdrawal", "withdraw", CUSTOMER, None),
]


def test_every_action_has_one_row_and_the_intake_offers_the_same_routes_as_before() -> None:
    assert set(BY_MODEL) == set(get_args(Action)) and len(ROWS) == len(get_args(Action))
    assert [(a.name, a.path, a.update, a.permission, a.actor_field) for a in CASE_ACTIONS] == ROUTES
    assert ACTIONS["assign"].staff_field == "assignee" and ACTIONS["ask"].cli_flags == {
        "pauses_clock": "--no-pause"
    }
    assert CustomerReply not in {a.model for a in CASE_ACTIONS}, "a reply comes by mail only"
    assert is_action(FirstResponse(engineer=ENGINEER, message="x")) and not is_action(TimePassed())


def test_the_workflow_has_one_update_per_row_taking_its_model_and_answering_a_receipt() -> None:
    updates = _Definition.must_from_class(SupportCaseWorkflow).updates
    for row in ROWS:
        update = updates[row.update]
        assert update.arg_types == [row.model] and update.ret_type is ActionReceipt, row.update
        assert update.validator is not None, f"{row.update} is checked by the case's refusal"
    rest = {"decided", "reached", "verify", "notification_bounced"}  # not a person's action
    assert set(updates) == {row.update for row in ROWS} | rest
    assert updates["notification_bounced"].arg_types == [DeliveryFailed]


def test_a_refusal_is_its_rows_gate_then_its_own_rule_with_the_rows_verb() -> None:
    driver = open_case("table-gates", severity="B")
    update = BY_MODEL[FirstResponse]
    first = FirstResponse(engineer=ENGINEER, message="On it")
    moving = refusal(driver.case, first, driver.now, moving=True)
    assert moving == update.refused(driver.case, first, driver.now, True)
    assert moving is not None and moving.startswith("cannot respond right now: the case is moving")
    assert refusal(driver.case, first, driver.now) is None
    driver.act(first)
    assert refusal(driver.case, first, driver.now) == (
        f"the first response was already given by {ENGINEER} at {driver.view.first_response.answered_at}"  # type: ignore[union-attr]
    )
