"""The channel registry (adapters/channels): which channels a worker has, which variable reaches
whom over which channel, and the routes that follow. Pure: no server."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from adapters.channels import DeliveryConfig, registry
from adapters.settings import Settings
from bootstrap.worker_runtime import _webhook_variables
from support.messaging.notifications import Audience
from support.messaging.routing import Route, routes
from tests.system.test_delivery import engineer_notice


def test_each_channel_module_is_registered_and_names_variables_that_exist() -> None:
    kinds = {kind.name: kind for kind in registry()}
    assert sorted(kinds) == ["email", "sms", "webhook"]
    assert not kinds["email"].signed and kinds["webhook"].signed and kinds["sms"].signed
    variables = {
        destination: str(Settings.model_fields[name].validation_alias)
        for kind in kinds.values()
        for destination, name in kind.settings.items()
    }
    assert variables == {
        "support_queue": "CASEWORK_WEBHOOK_SUPPORT_QUEUE",
        "duty_manager": "CASEWORK_WEBHOOK_ESCALATION",
        "phone": "CASEWORK_WEBHOOK_SMS",
    }


def test_a_variable_set_reaches_its_destination_over_its_channel_and_the_rest_get_email() -> None:
    settings = cast(
        Settings,
        SimpleNamespace(
            webhook_support_queue=None, webhook_escalation="https://esc", webhook_sms="https://sms"
        ),
    )
    targets = registry().targets(settings)
    assert targets == {"sms": {"phone": "https://sms"}, "webhook": {"duty_manager": "https://esc"}}
    assert _webhook_variables(settings) == ["CASEWORK_WEBHOOK_ESCALATION", "CASEWORK_WEBHOOK_SMS"]
    addresses = DeliveryConfig(smtp_host="mail", smtp_port=25, channels=targets).addresses
    engineer = engineer_notice("case-1", "mallory")
    duty = engineer.model_copy(update={"audience": Audience.DUTY_MANAGER})
    customer = engineer.model_copy(
        update={
            "audience": Audience.CUSTOMER,
            "to_email": "ops@fabrikam.example",
            "to_phone": "+3612345678",
            "prefer_phone": True,
        }
    )
    assert routes(duty, addresses) == [Route("webhook", "https://esc")]
    assert routes(engineer, addresses) == [Route("email", "support-queue@casework.example")]
    assert routes(customer, addresses) == [
        Route("sms", "https://sms", "+3612345678"),
        Route("email", "ops@fabrikam.example"),
    ]
