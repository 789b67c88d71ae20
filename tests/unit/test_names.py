"""Nothing a customer reads names a staff member (issue 23, "Names"): one rule
(`support.wording.names.shown_name`) for the customer's mail, the portal page and the API answer to a
portal or phone key. Staff read staff's names; a customer reads the staff list's `display_name`,
else the policy's support name in the customer's language.

Every customer template in en, zh-CN and hu is rendered for cases an engineer on the staff list
worked (every event a case tells the customer, driven through the real machine, plus each template
with every fact it can carry), and the portal's case page and the API's answer are rendered from
the customer's view of such a case: the staff `name` never appears, only the display name or the
support name."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.messages import Renderer
from adapters.phrases import PhraseBook
from adapters.settings import PROJECT_ROOT
from adapters.staff import load_staff, parse_staff
from interfaces.console.i18n import LANGUAGES, Words
from interfaces.console.kit import environment as _environment
from interfaces.console.words import Reading
from support.case.actions import (
    Assignment,
    Cooperation,
    CustomerActionRequest,
    CustomerUpdate,
    FirstResponse,
    InternalNote,
    ObligationAskedAgain,
    Resolution,
    SeverityChangeRequest,
    Withdrawal,
)
from support.case.customer_view import customer_view
from support.messaging.notifications import CUSTOMER_TEMPLATES, Audience, Notification
from support.policies.vocabulary import Severity
from support.wording.names import SUPPORT_NAMES, Names, Reader, shown_name
from tests.case_driver import Driver
from tests.requests import case_request
from tests.unit.test_case_machine import T0
from tests.unit.test_messages import FACTS, TIMES

STAFF = load_staff(PROJECT_ROOT / "staff.toml")  # li.wei (display name "Li Wei"), zhang.min (none)
NAMED, UNNAMED = "li.wei", "zhang.min"
DISPLAY = "Li Wei"
RENDERER = Renderer(PROJECT_ROOT / "templates", STAFF.display_names())
LANGUAGES_OF_CUSTOMERS = ["en", "zh-CN", "hu"]
STAFF_NAMES = [member.name for member in STAFF.staff]


def no_staff_name(text: str) -> None:
    for name in STAFF_NAMES:
        assert name not in text, f"{name!r} in: {text}"


def worked(engineer: str, language: str, request_id: str) -> Driver:
    """A severity A case `engineer` holds and works to the survey's reminder: every event a case
    tells its customer on the way (asks, reminders, updates, a severity change, resolution,
    survey), in `language`."""
    driver = Driver(case_request(request_id, language=language), T0)
    driver.act(Assignment(engineer=engineer, assignee=engineer, reason="on duty"))
    driver.act(FirstResponse(engineer=engineer, message="We are looking at the mail flow."))
    driver.act(CustomerActionRequest(engineer=engineer, what="the SMTP logs of Monday"))
    driver.act(Cooperation(request_id="contact_data", details="the contact data is right"))
    driver.act(ObligationAskedAgain(engineer=engineer, request_id="contact_data", reason="no phone given"))
    driver.advance(timedelta(hours=1, minutes=30))  # reminders of what is still owed
    driver.act(CustomerUpdate(engineer=engineer, message="The cause is a connector."))
    driver.act(InternalNote(engineer=engineer, note=f"{engineer} thinks it is the connector"))
    driver.act(SeverityChangeRequest(engineer=engineer, severity=Severity.B, reason="mail flows again"))
    driver.act(Resolution(engineer=engineer, summary="The connector was fixed."))
    driver.advance(timedelta(days=11))  # the reopen window, the survey and its reminder
    return driver


def downgraded_and_withdrawn(engineer: str, language: str, request_id: str) -> list[Driver]:
    """A case lowered for want of the customer's answers, a C case closed for it, a withdrawn one."""
    lowered = Driver(case_request(f"{request_id}-a", language=language), T0)
    lowered.act(Assignment(engineer=engineer, assignee=engineer, reason="on duty"))
    lowered.act(FirstResponse(engineer=engineer, message="Looking."))
    lowered.advance(timedelta(hours=3))
    silent = Driver(case_request(f"{request_id}-c", language=language, severity="C"), T0)
    silent.act(Assignment(engineer=engineer, assignee=engineer, reason="on duty"))
    silent.advance(timedelta(days=10))
    withdrawn = Driver(case_request(f"{request_id}-w", language=language), T0)
    withdrawn.act(FirstResponse(engineer=engineer, message="Looking."))
    withdrawn.act(Withdrawal(requester=withdrawn.case.request.requester, reason="solved it ourselves"))
    refused = Driver(case_request(f"{request_id}-r", "no-such-tenant", language=language), T0)
    return [lowered, silent, withdrawn, refused]


def customers_mail(drivers: list[Driver]) -> list[Notification]:
    return [n for d in drivers for n in d.told if n.audience.customer_side]


@pytest.mark.parametrize("language", LANGUAGES_OF_CUSTOMERS)
@pytest.mark.parametrize("engineer", [NAMED, UNNAMED])
def test_no_customer_mail_of_a_worked_case_names_staff(engineer: str, language: str) -> None:
    drivers = [worked(engineer, language, f"names-{engineer[0]}-{language}")]
    drivers += downgraded_and_withdrawn(engineer, language, f"names-{engineer[0]}-{language}")
    told = customers_mail(drivers)
    events = {n.template for n in told}
    # Every event a case tells its customer (the one-time code is the verification activity's).
    assert events == CUSTOMER_TEMPLATES - {"verification_code"}, CUSTOMER_TEMPLATES - events
    support_name = SUPPORT_NAMES[language]
    shown = DISPLAY if engineer == NAMED else support_name
    for notification in told:
        message = RENDERER.render(notification)
        assert message.language == language
        no_staff_name(message.subject + message.text + message.html)
        if notification.template in ("first_response", "customer_update"):
            assert shown in message.text, message.text


@pytest.mark.parametrize("language", LANGUAGES_OF_CUSTOMERS)
@pytest.mark.parametrize("template", sorted(CUSTOMER_TEMPLATES))
def test_every_customer_template_with_every_fact_names_no_staff(template: str, language: str) -> None:
    """Each template with every fact a case can give it, every staff-naming fact a staff name."""
    facts = FACTS | {"engineer": NAMED, "assignee": UNNAMED, "previous": NAMED, "support_name": "Helpdesk"}
    message = RENDERER.render(
        Notification(
            notification_id=f"case-r-1/{template}/0/customer",
            case_id="case-r-1",
            event=template,
            template=template,
            audience=Audience.CUSTOMER,
            language=language,
            time_zone="Asia/Shanghai",
            facts=facts,
            times=TIMES,
        )
    )
    no_staff_name(message.subject + message.text + message.html)


def test_support_side_mail_names_the_engineer() -> None:
    driver = worked(NAMED, "en", "names-staff-side")
    [queue] = [n for n in driver.told if n.template == "assigned"]
    assert NAMED in RENDERER.render(queue).text


@pytest.mark.parametrize("language", LANGUAGES_OF_CUSTOMERS)
def test_the_portal_page_and_the_api_answer_name_no_staff(language: str) -> None:
    driver = worked(NAMED, language, f"names-portal-{language}")
    lowered = downgraded_and_withdrawn(UNNAMED, language, f"names-portal-{language}")[0]
    for view in (driver.view, lowered.view):
        assert NAMED in view.model_dump_json() or UNNAMED in view.model_dump_json()  # staff's own view
        names = STAFF.names(driver.case.rules.routing.support_name)
        seen = customer_view(view, names)
        no_staff_name(seen.model_dump_json())  # the API's answer to a portal or phone key
        page = (
            _environment()
            .get_template("case.html")
            .render(
                r=Reading(
                    Words(PROJECT_ROOT / "templates" / "console", language),
                    PhraseBook(PROJECT_ROOT / "templates" / "reasons"),
                    "Asia/Shanghai",
                ),
                obligations={},
                t=Words(PROJECT_ROOT / "templates" / "console", language),
                lang=language,
                languages=LANGUAGES,
                path=f"/console/cases/{view.case_id}",
                principal=None,
                csrf="",
                may=lambda _: False,
                view=seen,
                zone="Asia/Shanghai",
                bars=[],
                bar_width=300,
                forms=[],
                suggested={},
                done="",
            )
        )
        no_staff_name(page)
    assert DISPLAY in customer_view(driver.view, names).model_dump_json()
    assert SUPPORT_NAMES[language] in customer_view(lowered.view, names).model_dump_json()


def test_one_rule_staff_read_names_customers_read_display_or_support_name() -> None:
    names = Names({"li.wei": "Li Wei"}, {"en": "Support", "zh-CN": "技术支持"})
    assert shown_name("li.wei", Reader.STAFF, names) == "li.wei"
    assert shown_name("li.wei", Reader.CUSTOMER, names, "zh-CN") == "Li Wei"
    assert shown_name("zhang.min", Reader.CUSTOMER, names, "zh") == "技术支持"
    assert shown_name("zhang.min", Reader.CUSTOMER, names, "fr") == "Support"
    for actor in ("system", "policy", "customer"):
        assert shown_name(actor, Reader.CUSTOMER, names) == actor


def test_a_display_name_is_one_line_and_optional() -> None:
    parsed = parse_staff('[[staff]]\nname = "a.b"\nemail = "a.b@x.example"\n', "staff.toml")
    assert parsed.display_names() == {}
    with pytest.raises(ValueError, match="display_name"):
        parse_staff('[[staff]]\nname = "a.b"\nemail = "a@x.example"\ndisplay_name = "A\\nB"\n', "staff.toml")
