"""The console's what-if page without Temporal: only operators reach it (others get 403 in their
language); a bad policy, range or tenant is shown on its field (the policy's errors as the API's
422 names them) and nothing is run; the form's body is bounded; an uploaded file is the policy.
The page with figures and flips is driven in a browser (tests/system/test_reports_browser.py)."""

from __future__ import annotations

import httpx

from adapters.settings import PROJECT_ROOT
from interfaces.console.whatif_page import MAX_WHATIF_BYTES, read_fields
from tests.unit.test_console import csrf_of, http, sign_in  # noqa: F401 (the fixture)

POLICY = (PROJECT_ROOT / "policy.toml").read_text(encoding="utf-8")
BAD = POLICY.replace('first_response = "1h"', 'first_response = "soon"', 1)


async def test_only_operators_reach_the_whatif_and_others_are_told_in_their_language(
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    await sign_in(http, "li.wei")
    agent = await http.get("/console/whatif", params={"lang": "hu"})
    assert agent.status_code == 403 and "Ez a kulcs erre nem jogosult." in agent.text, agent.text
    assert 'id="nav-whatif"' not in agent.text
    http.cookies.clear()
    await sign_in(http, "contoso-portal")
    portal = await http.post("/console/whatif", data={"policy": POLICY}, params={"lang": "zh-CN"})
    assert portal.status_code == 403 and "此密钥无权执行该操作" in portal.text, portal.text


async def test_a_bad_policy_or_range_is_shown_on_its_field_and_nothing_runs(
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    await sign_in(http, "ops")
    form = await http.get("/console/whatif", params={"lang": "en"})
    assert form.status_code == 200 and 'id="nav-whatif"' in form.text
    assert "first_response = &#34;1h&#34;" in form.text or 'first_response = "1h"' in form.text, "policy.toml"
    csrf = csrf_of(form.text)
    # No Temporal here: a form that got past its checks would answer 503, so a 422 ran nothing.
    bad = await http.post(
        "/console/whatif", data={"csrf": csrf, "policy": BAD, "from": "2026-11-20", "to": "2026-11-01"}
    )
    assert bad.status_code == 422, bad.text
    assert '<code class="policy-error">severities.A.first_response:' in bad.text, "the API's field, named"
    assert 'data-field="to">The end date is before the start date.' in bad.text
    assert 'id="whatif-result"' not in bad.text and "soon" in bad.text, "the pasted policy is kept"
    hu = await http.post(
        "/console/whatif",
        params={"lang": "hu"},
        data={"csrf": csrf, "policy": "", "from": "2025-01-01", "to": "2026-11-01", "tenant": "x'y"},
    )
    assert hu.status_code == 422
    for said in ("Illesszen be vagy töltsön fel egy szabályzatfájlt.", "Egy szimuláció legfeljebb 366 napot",
                 "Nem bérlőazonosító."):  # fmt: skip
        assert said in hu.text, said
    no_csrf = await http.post("/console/whatif", data={"policy": POLICY})
    assert no_csrf.status_code == 403
    huge = await http.post("/console/whatif", data={"csrf": csrf, "policy": "#" * (MAX_WHATIF_BYTES + 1)})
    assert huge.status_code == 413
    uploaded = await http.post(
        "/console/whatif",
        data={"csrf": csrf, "policy": POLICY, "from": "2026-11-01", "to": "2026-11-20"},
        files={"policy_file": ("proposed.toml", BAD.encode(), "application/toml")},
    )
    assert uploaded.status_code == 422 and 'policy-error">severities.A.first_response:' in uploaded.text


def test_an_uploaded_file_is_the_policy_and_an_empty_one_leaves_the_pasted_text() -> None:
    boundary = "xyz"
    parts = [
        ("policy", None, "pasted"),
        ("policy_file", "p.toml", "uploaded ✓"),
        ("from", None, "2026-11-01"),
    ]
    body = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
            + (f'; filename="{filename}"\r\nContent-Type: application/toml' if filename else "")
            + f"\r\n\r\n{value}\r\n"
            for name, filename, value in parts
        )
        + f"--{boundary}--\r\n"
    )
    fields = read_fields(f"multipart/form-data; boundary={boundary}", body.encode())
    assert fields == {"policy": "uploaded ✓", "from": "2026-11-01"}
    empty = body.replace("uploaded ✓", "")
    assert read_fields(f"multipart/form-data; boundary={boundary}", empty.encode())["policy"] == "pasted"
