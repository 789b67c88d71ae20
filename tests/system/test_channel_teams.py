"""A channel added in three files (ARCHITECTURE.md, "Delivery channels"): the Teams sender
(tests/teams_channel.py), its settings entry (TeamsSettings below stands for the one field in
adapters/settings.py) and this test. A real HTTP receiver gets the card; the ledger, retries and
signatures are the activity's, as for every channel."""

from __future__ import annotations

import dataclasses
import json

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.delivery import DeliveryActivities
from adapters.channels import registry
from adapters.database import open_database
from adapters.delivery_ledger import DeliveryLedger
from adapters.messages import Renderer
from adapters.settings import PROJECT_ROOT, Settings
from bootstrap.worker_runtime import StartRefused, delivery_config
from tests import teams_channel
from tests.deliveries import ledger
from tests.receivers import WebhookReceiver
from tests.system.test_delivery import SECRET, engineer_notice


class TeamsSettings(Settings):
    """Settings with the Teams channel's entry (file 2): in a deployment, a field of Settings."""

    webhook_teams: str | None = None


def with_teams(settings: Settings, url: str) -> TeamsSettings:
    given = settings.model_dump() | {"webhook_secret": SECRET, "webhook_teams": url}
    return TeamsSettings.model_construct(**given)  # taken as they are, as `Settings.replace`


def teams_deliveries(settings: TeamsSettings) -> DeliveryActivities:
    """The worker's deliveries with Teams registered: its target read from its settings entry."""
    channels = registry().with_kinds(teams_channel.CHANNEL)
    config = delivery_config(settings, channels)
    ledger_ = DeliveryLedger(open_database(settings))
    return DeliveryActivities(config, ledger_, Renderer(PROJECT_ROOT / "templates"), channels=channels)


async def test_the_support_queue_on_teams_gets_a_signed_card_once_and_the_ledger_says_teams(
    settings: Settings, request_id: str
) -> None:
    case_id = f"case-{request_id}"
    async with WebhookReceiver(secret=SECRET) as receiver:
        teams = with_teams(settings, receiver.url)
        assert registry().with_kinds(teams_channel.CHANNEL).signed_fields_set(teams) == ["webhook_teams"]
        async with teams_deliveries(teams) as deliveries:
            notice = engineer_notice(case_id, "mallory")  # not on the staff list: the support queue
            receipt = await ActivityEnvironment().run(deliveries.deliver_notification, notice)
            again = await ActivityEnvironment().run(deliveries.deliver_notification, notice)
    assert receipt.channel == "teams" and not receipt.duplicate and again.duplicate
    [sent] = receiver.received
    assert sent.status == 200, "signed as docs/webhooks.md tells receivers to check"
    card = json.loads(sent.body)
    assert card["@type"] == "MessageCard" and card["title"] == card["summary"]
    assert "mallory" in card["text"] and "Exchange Online is down" in card["text"]
    assert sent.headers["idempotency-key"] == notice.notification_id
    assert [(r["channel"], r["status"]) for r in ledger(teams, case_id)] == [("teams", "sent")]


async def test_teams_down_is_retried_and_teams_refusing_is_recorded_never_dropped(
    settings: Settings, request_id: str
) -> None:
    case_id = f"case-{request_id}"
    async with WebhookReceiver(script=[503, 400], secret=SECRET) as receiver:
        teams = with_teams(settings, receiver.url)
        async with teams_deliveries(teams) as deliveries:
            notice = engineer_notice(case_id, "mallory")
            with pytest.raises(ApplicationError) as down:
                await ActivityEnvironment().run(deliveries.deliver_notification, notice)
            assert down.value.type == "WebhookTransient" and not down.value.non_retryable
            assert ledger(teams, case_id) == [], "a retry is coming: nothing recorded yet"
            with pytest.raises(ApplicationError) as refused:
                await ActivityEnvironment().run(deliveries.deliver_notification, notice)
    assert refused.value.type == "DeliveryFailed" and refused.value.non_retryable
    assert "teams: webhook answered 400" in str(refused.value)
    assert [(r["channel"], r["status"]) for r in ledger(teams, case_id)] == [("teams", "failed")]


def test_a_channel_nobody_registered_or_a_destination_reached_twice_is_refused_before_any_delivery(
    settings: Settings,
) -> None:
    channels = registry().with_kinds(teams_channel.CHANNEL)
    both = with_teams(settings, "https://t.example").replace(webhook_support_queue="https://w")
    with pytest.raises(StartRefused) as refused:
        delivery_config(both, channels)
    assert str(refused.value) == (
        "CASEWORK_WEBHOOK_SUPPORT_QUEUE and webhook_teams are both set: the support queue is reached "
        "over one channel; unset one"
    )
    config = delivery_config(settings)
    unregistered = dataclasses.replace(config, channels={"teams": {"support_queue": "https://t.example"}})
    with pytest.raises(ValueError, match="no channel registered by the name teams"):
        DeliveryActivities(unregistered, DeliveryLedger(open_database(settings)), Renderer(PROJECT_ROOT))
    with pytest.raises(ValueError, match="support_queue is reached by both webhook and teams"):
        dataclasses.replace(
            config,
            channels={
                "webhook": {"support_queue": "https://a.example"},
                "teams": {"support_queue": "https://b"},
            },
        )
