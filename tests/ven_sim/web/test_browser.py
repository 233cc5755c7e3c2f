"""The `ven-sim live` page in a real headless Chromium, against a real LiveVen.

Driven with Playwright's Python package on the system browser (Debian's `chromium`;
tests/run.sh installs it): no browser download. Skipped when either is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from ven_sim.live.ven import LiveConfig, LiveVen
from ven_sim.web.api import CIRCUIT_ROLES
from ven_sim.web.server import WebServer
from ven_sim.wire import open_wire

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)
expect = sync_api.expect


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found is None and os.access("/usr/bin/chromium", os.X_OK):
        found = "/usr/bin/chromium"
    return found


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian: apt-get install chromium; "
    "tests/run.sh does it)"
)
WAIT_MS = 15_000
COUNTDOWN = re.compile(r"^(10:00|09:\d\d)$")  # a 10-minute event


@dataclass
class Live:
    ven: LiveVen
    base: str

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base}/api/state", timeout=10) as resp:
            return json.load(resp)


@dataclass
class Tab:
    page: Any
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    wire = open_wire("inprocess")
    ven = LiveVen(LiveConfig(thing_name="web-ven"), wire)
    runner = threading.Thread(target=ven.run, name="live-ven", daemon=True)
    runner.start()
    server = WebServer(ven, port=0)
    server.start()
    try:
        yield Live(ven, f"http://127.0.0.1:{server.port}")
    finally:
        server.stop()
        ven.stop()
        runner.join(15)
        wire.close()
    assert not runner.is_alive(), "LiveVen.run did not return after stop()"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    expect.set_options(timeout=WAIT_MS)
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def tab(browser: Any, live: Live) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    opened = Tab(page)
    context.on("request", lambda request: opened.requests.append(request.url))
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.goto(f"{live.base}/")
    expect(page.locator("#circuits tr[data-circuit]")).to_have_count(len(live.ven.circuit_ids))
    try:
        yield opened
    finally:
        context.close()
    assert opened.errors == [], opened.errors


def test_page_loads_only_from_the_server(tab: Tab, live: Live) -> None:
    page = tab.page
    for _ in range(2):  # two more polls after the table filled
        with page.expect_response(lambda r: urlsplit(r.url).path == "/api/state") as polled:
            pass
        assert polled.value.status == 200
    expect(page.locator("#thing-name")).to_have_text("web-ven")
    expect(page.locator("#used-kw")).to_have_text(re.compile(r"^\d+\.\d\d$"))
    server = urlsplit(live.base).netloc
    paths = set()
    for url in tab.requests:
        parts = urlsplit(url)
        if parts.scheme == "data":  # the inline favicon: no network
            continue
        assert (parts.scheme, parts.netloc) == ("http", server), f"request off the server: {url}"
        paths.add(parts.path)
    assert {"/", "/static/app.js", "/static/style.css", "/api/state"} <= paths


def test_circuits_table_fills(tab: Tab, live: Live) -> None:
    page = tab.page
    ids = page.locator("#circuits tr[data-circuit]").evaluate_all(
        "rows => rows.map(r => r.dataset.circuit)")
    assert sorted(ids) == sorted(live.ven.circuit_ids)
    loads = {row["id"]: row for row in live.state()["telemetry"]["loads"]}
    for circuit_id in ids:
        row = page.locator(f'#circuits tr[data-circuit="{circuit_id}"]')
        expect(row.locator('[data-field="name"]')).to_have_text(loads[circuit_id]["name"])
        expect(row.locator('[data-field="priority"]')).to_have_text(
            str(loads[circuit_id]["priority"]))
        expect(row.locator("input[type=checkbox]")).to_be_checked()


def test_toggling_a_circuit_off(tab: Tab, live: Live) -> None:
    page = tab.page
    loads = live.state()["telemetry"]["loads"]
    busiest = max(loads, key=lambda row: row["currentPowerKw"])["id"]
    row = page.locator(f'#circuits tr[data-circuit="{busiest}"]')
    row.locator("input[type=checkbox]").uncheck()
    expect(row).to_have_attribute("data-enabled", "false")  # from the next telemetry
    expect(row.locator('[data-field="kw"]')).to_have_text("0.00")
    load = next(r for r in live.state()["telemetry"]["loads"] if r["id"] == busiest)
    assert (load["enabled"], load["currentPowerKw"]) == (False, 0.0)
    expect(row.locator("input[type=checkbox]")).not_to_be_checked()
    row.locator("input[type=checkbox]").check()  # and back on
    expect(row).to_have_attribute("data-enabled", "true")


def test_panel_selector(tab: Tab) -> None:
    page = tab.page
    options = page.locator("#panel-amps option")
    expect(options).to_have_text(["100 A", "150 A", "200 A"])  # from /api/state
    page.select_option("#panel-amps", "150")
    expect(page.locator("#panel-max")).to_have_text("36 kW max")
    page.select_option("#panel-amps", "200")
    expect(page.locator("#panel-max")).to_have_text("48 kW max")


def test_event_from_the_form_and_the_chart(tab: Tab, live: Live) -> None:
    page = tab.page
    page.fill("#event-kw", "1.5")
    page.fill("#event-minutes", "10")
    page.click("#event-trigger")
    rows = page.locator("#events tr[data-event]")
    expect(rows).to_have_count(1)
    event_id = rows.first.get_attribute("data-event")
    assert event_id is not None and event_id.startswith("local-")
    expect(rows.first.locator('[data-field="requested"]')).to_have_text("1.50")
    expect(rows.first.locator('[data-field="remaining"]')).to_have_text(
        COUNTDOWN)
    expect(page.locator("#event-countdown")).to_have_text(COUNTDOWN)
    assert [e["eventId"] for e in live.state()["events"]] == [event_id]

    chart = page.locator("#chart")
    points = int(chart.get_attribute("data-points") or 0)
    assert points > 0
    page.wait_for_function(  # the history grows and the chart follows it
        "n => Number(document.getElementById('chart').dataset.points) > n", arg=points)
    painted = chart.evaluate("""c => {
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n;
    }""")
    assert painted > 2000, f"only {painted} painted pixels"
    assert len(chart.evaluate("c => c.toDataURL()")) > 5000

    rows.first.locator('button[data-action="restore"]').click()
    expect(rows).to_have_count(0)
    expect(page.locator("#last-event")).to_contain_text(event_id)
    assert live.state()["events"] == []



def test_circuits_say_how_they_take_part_in_an_event(tab: Tab, live: Live) -> None:
    page = tab.page
    state = live.state()
    expect(page.locator("#circuits thead")).to_contain_text("In an event")
    for load in state["telemetry"]["loads"]:
        role = page.locator(f'#circuits tr[data-circuit="{load["id"]}"] [data-field="role"]')
        expect(role).to_have_text(CIRCUIT_ROLES[load["type"]])
        assert role.text_content() != load["name"]  # no longer the name again
        expect(role).to_have_attribute("title", load["type"])


def test_manual_changes_and_event_shed_are_kept_apart(tab: Tab, live: Live) -> None:
    page = tab.page
    expect(page.locator(".card h2").nth(2)).to_have_text("Estimated shed")
    expect(page.locator("#manual-off")).to_have_text("no circuit switched off by hand")
    page.fill("#event-kw", "0.5")
    page.fill("#event-minutes", "10")
    page.click("#event-trigger")
    rows = page.locator("#events tr[data-event]")
    expect(rows).to_have_count(1)
    (event,) = live.state()["events"]
    # The card's event figure is the event's own curtailment, as in its row.
    expect(page.locator("#event-shed-kw")).to_have_text(f"{event['actualShedKw']:.2f}")
    expect(rows.first.locator('[data-field="shed"]')).to_have_text(f"{event['actualShedKw']:.2f}")
    lights = page.locator('#circuits tr[data-circuit="lights1"]')
    lights.locator("input[type=checkbox]").uncheck()
    expect(page.locator("#manual-off")).to_have_text(
        "switched off by hand: Lighting Circuits (not counted as shed)")
    expect(page.locator("#manual-off")).to_have_attribute("data-count", "1")
    # Switching a circuit off by hand does not become the event's curtailment.
    expect(page.locator("#event-shed-kw")).to_have_text(f"{event['actualShedKw']:.2f}")
    lights.locator("input[type=checkbox]").check()
    expect(page.locator("#manual-off")).to_have_text("no circuit switched off by hand")
    rows.first.locator('button[data-action="restore"]').click()
    expect(rows).to_have_count(0)


def test_baseline_and_chart_say_what_they_show(tab: Tab, live: Live) -> None:
    page = tab.page
    # The VEN's own estimate of its use without the event (used + estimated shed), not a
    # rolling baseline: the controller keeps none.
    expect(page.locator(".card h2").nth(1)).to_have_text("Use without the event")
    expect(page.locator("#baseline-note")).to_have_text(
        "the VEN's estimate: used plus estimated shed")
    zone = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    expect(page.locator("#chart-axis")).to_contain_text(f"time of day, local ({zone}")
    expect(page.locator("#chart-step")).to_have_text(
        f"power moves in steps: the house physics steps every {live.ven.physics_step_s:g} s")
    expect(page.locator(".legend")).to_contain_text("use without the event (estimate)")
    expect(page.locator(".legend")).to_contain_text("estimated shed")
    assert "baselineWindowS" not in live.state()


def test_token_from_the_url_fragment(browser: Any, live: Live) -> None:
    server = WebServer(live.ven, port=0, token="frag-token")
    server.start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        base = f"http://127.0.0.1:{server.port}/"
        for url, status in ((base, 401), (f"{base}#token=frag-token", 200)):
            page.goto(url)
            box = page.locator('#circuits tr[data-circuit="ev1"] input[type=checkbox]')
            expect(box).to_be_checked()
            with page.expect_response(lambda r: "/api/circuits/" in r.url) as answer:
                box.click()  # not uncheck(): refused, the page puts the tick back
            assert answer.value.status == status
            if status == 401:
                expect(page.locator("#message")).to_contain_text("#token=")
                expect(box).to_be_checked()
        expect(page.locator('#circuits tr[data-circuit="ev1"]')).to_have_attribute(
            "data-enabled", "false")
        page.locator('#circuits tr[data-circuit="ev1"] input[type=checkbox]').check()
        expect(page.locator('#circuits tr[data-circuit="ev1"]')).to_have_attribute(
            "data-enabled", "true")
    finally:
        context.close()
        server.stop()


def test_off_loopback_the_page_reads_with_the_token_only(browser: Any, live: Live) -> None:
    server = WebServer(live.ven, host="0.0.0.0", port=0, token="wide-token")
    server.start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        base = f"http://127.0.0.1:{server.port}/"
        with page.expect_response(lambda r: r.url.endswith("/api/state")) as answer:
            page.goto(base)
        assert answer.value.status == 401
        expect(page.locator("#message")).to_contain_text("#token=")
        expect(page.locator("#circuits tr[data-circuit]")).to_have_count(0)
        page.goto(f"{base}#token=wide-token")
        page.reload()  # a new fragment alone does not reload the page
        expect(page.locator('#circuits tr[data-circuit="ev1"]')).to_have_count(1)
    finally:
        context.close()
        server.stop()
