"""The QA page in a real headless Chromium: a QA user finds a recorded call, plays it (both
sides' waveforms drawn, the timeline and transcript following the playback), scores it and
sees the score listed."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from app.config import Settings
from app.db.session import Database
from tests.browser import PageErrors, WebApp, cut_off_internet, in_thread
from tests.recorded_calls import RecordedCall, record_call

# Pixels of the side's colour in its canvas (qa.js COLORS), and in the other side's canvas.
COLOURED = """([id, r, g, b]) => {
  const c = document.getElementById(id);
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4)
    if (data[i] === r && data[i + 1] === g && data[i + 2] === b) n++;
  return n;
}"""
CALLER_BLUE = (0x0B, 0x5C, 0xAD)
AGENT_GREEN = (0x1E, 0x8E, 0x3E)


def recorded(web_app: WebApp, tmp_path: Path, audio: bool = True,
             transcript: bool = True) -> RecordedCall:
    settings = Settings(state_dir=web_app.state_dir, database_url=web_app.db_url,
                        pbx_root=tmp_path / "root")

    async def seed() -> RecordedCall:
        db = Database(web_app.db_url)
        try:
            return await record_call(db, settings, audio=audio, transcript=transcript)
        finally:
            await db.dispose()

    return in_thread(seed)


def open_call(page: Page, web_app: WebApp, call: RecordedCall, keyword: str = "") -> None:
    name, password = web_app.user("qa")
    page.goto(f"{web_app.url}/qa")
    web_app.login(page, name, password)
    expect(page.locator("#who")).to_have_text(name)
    page.fill("#search input[name=agent]", call.agent)
    page.fill("#search input[name=keyword]", keyword)
    page.click("#search button[type=submit]")
    row = page.locator(f"#results tr[data-call='{call.call_id}']")
    expect(page.locator("#results tbody tr")).to_have_count(1)  # only this agent's call
    row.click()
    expect(page.locator("#call-id")).to_have_text(call.call_id)


def test_qa_finds_plays_and_scores_a_recorded_call(
        page: Page, web_app: WebApp, tmp_path: Path) -> None:
    call = recorded(web_app, tmp_path)
    refused = cut_off_internet(page)
    open_call(page, web_app, call, keyword="稍等")  # in the agent's words, not spotted

    # Both sides drawn from the peaks, each in its own colour.
    page.wait_for_function("() => Number(document.getElementById('wave-agent').dataset.drawn) > 0")
    assert page.evaluate(COLOURED, ["wave-caller", *CALLER_BLUE]) > 100
    assert page.evaluate(COLOURED, ["wave-agent", *AGENT_GREEN]) > 100
    assert page.evaluate(COLOURED, ["wave-caller", *AGENT_GREEN]) == 0

    # The timeline: the IVR before the recording, then the agent's part, in order.
    categories = page.locator("#events li").evaluate_all("els => els.map(e => e.dataset.category)")
    assert categories == ["ivr", "ivr", "ivr", "ivr", "queue", "ring", "connect", "hold", "hold",
                          "pause", "transfer", "end"]
    expect(page.locator("#events li[data-category=queue] .what")).to_have_text(
        f"进入队列 {call.queue}，等待 4 秒")
    expect(page.locator("#events li[data-category=ivr]").first.locator(".at")).to_contain_text(
        "录音前")
    # The transcript with the spotted keyword marked.
    expect(page.locator("#transcript .segment.side-caller mark").first).to_have_text("退票")
    expect(page.locator("#keywords .keyword")).to_have_text("退票 · 旅客 0:01.0")
    expect(page.locator("#transcript .segment.side-agent mark")).to_have_text("稍等")

    # Play: the audio element reaches `playing`; the marks follow the playback.
    page.evaluate("""() => {
      const audio = document.getElementById('audio');
      audio.addEventListener('playing', () => { window.qaPlaying = true; }, { once: true });
      return audio.play().then(() => true);
    }""")
    page.wait_for_function("() => window.qaPlaying === true")
    page.wait_for_function(
        "() => document.querySelector('#events li.current')?.dataset.category === 'connect'")
    page.wait_for_function(
        "() => document.querySelector('#events li.current')?.dataset.category === 'hold'",
        timeout=20_000)
    expect(page.locator("#transcript .segment.current")).to_have_count(1)
    head = page.locator("#timeline-bar .playhead").evaluate("e => parseFloat(e.style.left)")
    assert head > 25  # past 3 s of 10
    page.evaluate("() => document.getElementById('audio').pause()")
    # The player fetched the audio by HTTP Range, each fetch a listen in the access log.
    admin, password = web_app.user("admin")
    with httpx.Client(base_url=web_app.url) as client:
        client.post("/api/v1/session", json={"username": admin, "password": password})
        trail = client.get(f"/api/v1/recordings/access?recording_id={call.recording_id}").json()
    qa_name = page.locator("#who").inner_text()
    assert trail and {(a["actor"], a["action"]) for a in trail} == {(qa_name, "listen")}
    assert any((a["detail"] or "").startswith("bytes=") for a in trail)

    # Score: full marks but one point off the greeting.
    expect(page.locator("#questions .question")).not_to_have_count(0)
    page.fill("#questions input[name=points-greeting]", "4")
    page.fill("#score textarea[name=comment]", "开场白不完整")
    page.click("#score button[type=submit]")
    expect(page.locator("#score-done")).to_have_text("已提交，得分 98.5")
    listed = page.locator("#evaluations tbody tr")
    expect(listed).to_have_count(1)
    expect(listed.locator("td.total")).to_have_text("98.5")
    expect(listed.locator("td").first).to_have_text(page.locator("#who").inner_text())

    # The English switch covers the page's own texts.
    page.click("[data-lang-switch]")
    expect(page.locator("header h1")).to_have_text("Quality")
    expect(page.locator("#events li[data-category=hold] .cat").first).to_have_text("Hold")
    assert refused == []  # every asset came from the app


def test_the_index_links_the_qa_page_and_agents_may_not_use_it(
        page: Page, web_app: WebApp) -> None:
    name, password = web_app.user("agent")
    page.goto(web_app.url)
    web_app.login(page, name, password)
    link = page.locator("#pages a[href='/qa']")
    expect(link).to_have_text("质量管理")
    link.click()
    expect(page.locator("form.login")).to_be_visible()  # the agent's session does not admit it
    web_app.login(page, name, password)
    expect(page.locator("form.login .error")).to_have_text("此账号无权使用本页面")
    expect(page.locator("#content")).to_be_hidden()


def test_a_call_whose_recording_is_missing_still_shows_its_timeline(
        page: Page, web_app: WebApp, tmp_path: Path) -> None:
    call = recorded(web_app, tmp_path, audio=False)
    open_call(page, web_app, call)
    expect(page.locator("#results tbody tr td").last).to_have_text("缺失")
    expect(page.locator("#events li")).to_have_count(12)
    assert page.locator("#wave-caller").get_attribute("data-drawn") == "0"
    assert page.locator("#audio").get_attribute("src") is None
    expect(page.locator("#transcript-note")).to_have_text("尚无转写文本")
    expect(page.locator("#ask-transcript")).to_be_hidden()  # nothing to transcribe


def test_qa_asks_for_a_missing_transcript(
        page: Page, web_app: WebApp, tmp_path: Path, page_errors: PageErrors) -> None:
    call = recorded(web_app, tmp_path, transcript=False)
    open_call(page, web_app, call)
    expect(page.locator("#keywords .keyword")).to_have_count(1)  # the quick tier ran
    expect(page.locator("#transcript .segment")).to_have_count(0)
    expect(page.locator("#transcript-note")).to_have_text("尚无转写文本")
    # Transcripts are made by `hotline serve`; this API-only node answers 503 and says so.
    page_errors.allowed.append("503 (Service Unavailable)")
    page.click("#ask-transcript")
    expect(page.locator("#transcript-note")).to_contain_text("hotline serve")
