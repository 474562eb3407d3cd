"""The station page in a real headless browser (Debian's chromium through Playwright), against
a real server on each backend: sign in, the board, a session, a reading and an alert arriving
live, acknowledging it, a refused step in the API's words, a dropped stream that reconnects and
fills the gap, a wrong password and an expired sign-in.

Skipped only when chromium is missing outside CI (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.api.safety_helpers import monitoring_session
from tests.factories import create_patient, create_plan, iso, now
from tests.live import ADMIN_PASSWORD, ROOT, SECRET_KEY, LiveServer, _token
from tests.station.conftest import Served

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not HAVE_CHROMIUM and not os.environ.get("CI"),
        reason="needs Debian's chromium (apt-get install chromium); .ci/run installs it",
    ),
]
PASSWORD = "station-nurse-password-0123"
WAIT_MS = 30_000
DOCS = ROOT / "docs"
# VIGIL_UPDATE_SCREENSHOTS=1 rewrites docs/station-*.png (the README's screenshots) from this run
SCREENSHOTS = bool(os.environ.get("VIGIL_UPDATE_SCREENSHOTS"))


async def _user(client: httpx.AsyncClient, role: str, display_name: str) -> dict[str, Any]:
    admin = await _token(client, "admin", ADMIN_PASSWORD)
    username = f"{role}-{uuid.uuid4().hex[:6]}"
    r = await client.post(
        "/v1/users",
        json={
            "username": username,
            "password": PASSWORD,
            "role": role,
            "display_name": display_name,
        },
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert r.status_code == 201, r.text
    return {**r.json(), "admin_token": admin}


@pytest.fixture
async def api(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.base_url, timeout=30) as c:
        clinician = await _user(c, "clinician", "Dr Ines Okafor")
        c.headers["Authorization"] = f"Bearer {await _token(c, clinician['username'], PASSWORD)}"
        yield c


@pytest.fixture
async def page(served: Served) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        context = await browser.new_context(viewport={"width": 1500, "height": 1000})
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        from playwright.async_api import expect

        expect.set_options(timeout=WAIT_MS)
        try:
            yield page
        finally:
            await context.close()
            await browser.close()


async def _sign_in(page: Any, base_url: str, username: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base_url}/station/")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def _patient_in_monitoring(
    api: httpx.AsyncClient, given: str, family: str, chair: str
) -> dict[str, Any]:
    patient = await create_patient(api, given_name=given, family_name=family)
    plan = await create_plan(api, patient["id"])
    session = await monitoring_session(api, plan=plan)
    r = await api.get(f"/v1/sessions/{session['id']}")
    return {**r.json(), "patient": patient, "chair": chair}


async def test_a_nurse_works_a_session_live(
    served: Served, api: httpx.AsyncClient, page: Any
) -> None:
    from playwright.async_api import expect

    nurse = await _user(api, "nurse", "Sam Rivera, RN")
    session = await _patient_in_monitoring(api, "Lucía", "Ferreira", "chair-3")
    sid = session["id"]
    await monitoring_session(api)  # another chair on the board

    await _sign_in(page, served.base_url, nurse["username"])
    await expect(page.locator("#live-status")).to_have_text("Live")
    row = page.locator(f"tr[data-session='{sid}']")
    await expect(row).to_contain_text("Lucía Ferreira")
    await expect(row).to_contain_text(session["patient"]["mrn"])
    await expect(row).to_contain_text("monitoring")
    await expect(page.locator("#who-name")).to_contain_text("Sam Rivera, RN")
    # no patient data in the URL or in the browser's storage, only the token
    assert "Ferreira" not in page.url
    assert sid not in page.url
    stored = await page.evaluate("JSON.stringify({...sessionStorage, ...localStorage})")
    assert "Ferreira" not in stored
    assert session["patient"]["mrn"] not in stored

    # a reading posted through the API appears on the board without a reload
    r = await api.post(
        f"/v1/sessions/{sid}/vitals",
        json={
            "observations": [
                {"code": "systolic_bp", "value": 133, "unit": "mm[Hg]", "measured_at": iso(now())},
                {"code": "diastolic_bp", "value": 85, "unit": "mm[Hg]", "measured_at": iso(now())},
            ]
        },
    )
    assert r.status_code == 201, r.text
    await expect(row).to_contain_text("133/85")
    if served.backend == "sqlite" and SCREENSHOTS:
        await page.screenshot(path=str(DOCS / "station-board.png"), full_page=True)

    # open the session (keyboard: focus the row's button, press Enter)
    await page.get_by_role("button", name=re.compile("^Open Lucía Ferreira")).focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#session-title")).to_contain_text("Lucía Ferreira")
    await expect(page.locator("#session-status")).to_have_text("monitoring")
    readings = page.locator("#readings-body")
    await expect(readings).to_contain_text("133 mmHg")

    # a reading arrives live on the session page
    r = await api.post(
        f"/v1/sessions/{sid}/vitals",
        json={
            "observations": [
                {"code": "heart_rate", "value": 77, "unit": "/min", "measured_at": iso(now())}
            ]
        },
    )
    assert r.status_code == 201, r.text
    await expect(readings).to_contain_text("77 /min")

    # an alert appears, and is acknowledged with a note (critical)
    r = await api.post(
        f"/v1/sessions/{sid}/vitals",
        json={
            "observations": [{"code": "spo2", "value": 86, "unit": "%", "measured_at": iso(now())}]
        },
    )
    assert r.status_code == 201, r.text
    alert = (await api.get(f"/v1/sessions/{sid}/alerts", params={"status": "open"})).json()[
        "items"
    ][0]
    item = page.locator(f"[data-alert='{alert['id']}']")
    await expect(item).to_contain_text(alert["message"])
    await item.get_by_label(re.compile("^Note")).fill("Repositioned, oxygen on, SpO2 rechecked")
    await item.get_by_role("button", name="Acknowledge").click()
    await expect(page.locator("#alerts-list")).to_contain_text("No open alerts.")
    acknowledged = (
        await api.get(f"/v1/sessions/{sid}/alerts", params={"status": "acknowledged"})
    ).json()
    assert [a["id"] for a in acknowledged["items"]] == [alert["id"]]

    # a refused transition shows the API's reasons, each in its words
    transition = page.get_by_role("form", name="Move the session")
    await transition.get_by_label("Move to").select_option("discharged")
    async with page.expect_response(
        lambda resp: resp.url.endswith(f"/v1/sessions/{sid}/transitions")
    ) as info:
        await transition.get_by_role("button", name="Move").click()
    answer = await info.value
    assert answer.status == 409
    problem = await answer.json()
    refusal = transition.get_by_role("alert")
    await expect(refusal).to_contain_text(problem["detail"][:60])
    for unmet in problem["unmet"]:
        await expect(refusal).to_contain_text(unmet["message"])
    await expect(page.locator("#session-status")).to_have_text("monitoring")
    # a warning alert arrives while the page shows the refusal
    r = await api.post(
        f"/v1/sessions/{sid}/vitals",
        json={
            "observations": [
                {"code": "heart_rate", "value": 127, "unit": "/min", "measured_at": iso(now())}
            ]
        },
    )
    assert r.status_code == 201, r.text
    warning = (await api.get(f"/v1/sessions/{sid}/alerts", params={"status": "open"})).json()[
        "items"
    ][0]
    await expect(page.locator(f"[data-alert='{warning['id']}']")).to_contain_text(
        warning["message"]
    )
    await expect(refusal).to_be_visible()
    if served.backend == "sqlite" and SCREENSHOTS:
        await page.screenshot(path=str(DOCS / "station-session.png"), full_page=True)


async def test_a_dropped_stream_reconnects_and_fills_the_gap(
    served: Served, api: httpx.AsyncClient, page: Any
) -> None:
    """The page's server goes away; a reading is stored meanwhile through another server on
    the same database; the page says it is not live, then reconnects and shows the reading."""
    from playwright.async_api import expect

    nurse = await _user(api, "nurse", "Jo Park, RN")
    session = await _patient_in_monitoring(api, "Tomás", "Lindqvist", "chair-5")
    sid = session["id"]
    await _sign_in(page, served.base_url, nurse["username"])
    await expect(page.locator("#live-status")).to_have_text("Live")
    row = page.locator(f"tr[data-session='{sid}']")
    await expect(row).to_contain_text("Tomás Lindqvist")

    other = LiveServer(served.url, workers=1, log_dir=served.server.log_path.parent).start()
    try:
        served.server.stop()
        await expect(page.locator("#live-status")).to_have_text("Reconnecting…")
        await expect(page.locator("#stale-banner")).to_contain_text("Not live")
        async with httpx.AsyncClient(base_url=other.base_url, headers=api.headers, timeout=30) as b:
            r = await b.post(
                f"/v1/sessions/{sid}/vitals",
                json={
                    "observations": [
                        {
                            "code": "systolic_bp",
                            "value": 141,
                            "unit": "mm[Hg]",
                            "measured_at": iso(now()),
                        },
                        {
                            "code": "diastolic_bp",
                            "value": 88,
                            "unit": "mm[Hg]",
                            "measured_at": iso(now()),
                        },
                    ]
                },
            )
            assert r.status_code == 201, r.text
        await expect(row).not_to_contain_text("141/88")  # nothing shown as live while away
        served.server.start()
        await expect(page.locator("#live-status")).to_have_text("Live")
        await expect(row).to_contain_text("141/88")
        await expect(page.locator("#stale-banner")).to_be_hidden()
    finally:
        other.stop()
        if served.server.process is None:
            served.server.start()


async def test_wrong_password_and_an_expired_sign_in(
    served: Served, api: httpx.AsyncClient, page: Any
) -> None:
    from playwright.async_api import expect

    nurse = await _user(api, "nurse", "Ali Demir, RN")
    await _sign_in(page, served.base_url, nurse["username"], password="not-the-password-at-all")
    message = page.locator("#sign-in-message")
    answer = await api.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": nurse["username"], "password": "wrong-again-0"},
    )
    await expect(message).to_have_text(answer.json()["detail"])
    await expect(page.locator("#board")).to_be_hidden()

    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#live-status")).to_have_text("Live")

    # the token expires: the page goes back to sign-in and says so
    at = now()
    expired = jwt.encode(
        {
            "sub": nurse["id"],
            "role": "nurse",
            "iss": "vigil",
            "iat": int((at - timedelta(hours=9)).timestamp()),
            "exp": int((at - timedelta(hours=1)).timestamp()),
        },
        SECRET_KEY,
        algorithm="HS256",
    )
    await page.evaluate("t => sessionStorage.setItem('vigil.station.token', t)", expired)
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(message).to_contain_text("signed out")
    await expect(page.locator("#board")).to_be_hidden()
    assert await page.evaluate("sessionStorage.getItem('vigil.station.token')") is None

    # signed in again, then the account is disabled: the next request returns to sign-in
    await page.get_by_label("Username").fill(nurse["username"])
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#live-status")).to_have_text("Live")
    r = await api.post(
        f"/v1/users/{nurse['id']}/disable",
        headers={"Authorization": f"Bearer {nurse['admin_token']}"},
    )
    assert r.status_code == 200, r.text
    await monitoring_session(api)  # a status event makes the page read the board again
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(message).to_contain_text("signed out")
