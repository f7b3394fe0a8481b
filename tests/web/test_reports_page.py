"""The reports page 统计分析 in a real headless Chromium: a supervisor sees the figures of the
scripted day (tests/stats_scenario.py, written into the web app's database), the chart, the
staffing for the busiest hour, and downloads the CSV."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from tests.browser import PageErrors, WebApp, in_thread
from tests.stats_scenario import DAY, write_scenario


@pytest.fixture(scope="module")
def scripted_day(web_app: WebApp) -> str:
    with pytest.MonkeyPatch.context() as mp:
        in_thread(lambda: write_scenario(web_app.db_url, mp, agents=("8801", "8802")))
    return DAY


def tile(page: Page, key: str) -> str:
    return page.locator(f"#totals .tile[data-key={key}] .value").inner_text()


def test_a_supervisor_sees_the_days_figures_and_downloads_the_csv(
        page: Page, web_app: WebApp, scripted_day: str) -> None:
    name, password = web_app.user("supervisor")
    page.goto(f"{web_app.url}/reports?from={scripted_day}&to={scripted_day}&by=queue"
              "&interval=hour")
    expect(page.locator("form.login")).to_be_visible()
    web_app.login(page, name, password)
    expect(page.locator("#content")).to_have_attribute(
        "data-loaded", f"from={scripted_day}&to={scripted_day}&by=queue&interval=hour")
    assert tile(page, "offered") == "17"
    assert tile(page, "answered") == "11"
    assert tile(page, "short_abandoned") == "1"
    assert tile(page, "answer_rate") == "64.7%"
    assert tile(page, "service_level") == "63.6%"
    assert tile(page, "asa_s") == "18.3"
    assert tile(page, "aht_s") == "80"  # 80.0 s: a whole number
    assert tile(page, "platform_ended") == "1"
    row = page.locator("#rows tbody tr[data-key=ticket]")
    expect(row.locator("td[data-col=offered]")).to_have_text("17")
    expect(row.locator("td").nth(1)).to_have_text("11-02 09:00")
    # The chart: one interval (09:00), offered and answered bars drawn as SVG.
    bars = page.locator("#chart svg rect[data-x='2026-11-02T09:00:00+08:00']")
    expect(bars).to_have_count(2)
    # The busiest hour and the agents its traffic needs (17 calls × 80 s = 0.38 Erlangs).
    expect(page.locator("#busiest")).to_contain_text("2026-11-02 09:00")
    expect(page.locator("#busiest")).to_contain_text("17")
    expect(page.locator("#need")).to_contain_text("0.38")
    with page.expect_download() as download:
        page.click("#csv")
    text = open(download.value.path(), encoding="utf-8").read()
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [(r["key"], r["offered"], r["answered"]) for r in lines] == \
        [("ticket", "17", "11"), ("TOTAL", "17", "11")]
    assert download.value.suggested_filename == \
        f"hotline-stats-{scripted_day}-{scripted_day}-queue.csv"


def test_english_and_the_agent_view(page: Page, web_app: WebApp, scripted_day: str,
                                    page_errors: PageErrors) -> None:
    name, password = web_app.user("supervisor")
    page.goto(f"{web_app.url}/reports?from={scripted_day}&to={scripted_day}&by=agent")
    web_app.login(page, name, password)
    expect(page.locator("#rows tbody tr[data-key='8801'] td[data-col=answered]")).to_have_text(
        "10")
    page.click("[data-lang-switch]")
    expect(page.locator("header h1")).to_have_text("Reports")
    expect(page.locator("#totals .tile[data-key=answer_rate] .label")).to_have_text(
        "Answer rate")
    # A backwards range is refused with the API's message, on the page.
    page_errors.allowed.append("400")
    page.fill("#query input[name=to]", "2026-11-01")
    page.click("#query button[type=submit]")
    expect(page.locator("#query .error")).to_contain_text("is before from")


def test_an_agent_may_not_use_the_reports(page: Page, web_app: WebApp,
                                          page_errors: PageErrors) -> None:
    name, password = web_app.user("agent")
    page.goto(f"{web_app.url}/reports")
    web_app.login(page, name, password)
    expect(page.locator("form.login .error")).to_have_text("此账号无权使用本页面")
    expect(page.locator("#content")).to_be_hidden()
