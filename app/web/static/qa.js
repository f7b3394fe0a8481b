// 质量管理 QA workspace: find recordings, replay them with both sides' waveforms, the call's
// timeline and transcript following the playback, and score the call.
"use strict";

Hotline.addTexts({
  zh: {
    "qa.title": "质量管理", "qa.home": "首页", "qa.search": "录音检索", "qa.from": "开始日期",
    "qa.to": "结束日期", "qa.agent": "坐席工号", "qa.queue": "队列", "qa.keyword": "关键词",
    "qa.keyword.hint": "如 投诉、退票", "qa.min_seconds": "最短时长(秒)", "qa.find": "查询",
    "qa.col.time": "时间", "qa.col.call": "通话", "qa.col.queue": "队列", "qa.col.agents": "坐席",
    "qa.col.duration": "时长", "qa.col.status": "状态", "qa.col.evaluator": "评分人",
    "qa.col.agent": "坐席", "qa.col.scorecard": "评分表", "qa.col.total": "得分",
    "qa.col.at": "评分时间", "qa.count": "共 {n} 条", "qa.none": "没有符合条件的录音",
    "qa.call": "通话", "qa.caller.left": "旅客（左声道）", "qa.agent.right": "坐席（右声道）",
    "qa.timeline": "通话经过", "qa.transcript": "转写文本", "qa.transcript.none": "尚无转写文本",
    "qa.transcript.ask": "请求转写", "qa.transcript.queued": "已排队转写，前面还有 {n} 项，稍后刷新",
    "qa.transcript.done": "已转写，重新打开即可查看",
    "qa.score": "评分", "qa.scorecard": "评分表", "qa.comment": "评语", "qa.submit": "提交评分",
    "qa.na": "不适用", "qa.failed": "未通过", "qa.critical": "否决项", "qa.points": "分",
    "qa.scored": "已提交，得分 {score}", "qa.evaluations": "本通话的评分", "qa.no_evaluations": "尚无评分",
    "qa.critical_failed": "（否决）", "qa.before": "录音前", "qa.facts": "{time} · 队列 {queue} · 坐席 {agents} · 时长 {duration}",
    "side.caller": "旅客", "side.agent": "坐席",
    "status.ready": "可回放", "status.partial": "部分", "status.recording": "录音中",
    "status.missing": "缺失", "status.purged": "已清除",
    "cat.ivr": "语音导航", "cat.queue": "排队", "cat.ring": "振铃", "cat.connect": "接通",
    "cat.hold": "保持", "cat.transfer": "转接", "cat.pause": "暂停录音", "cat.end": "结束",
    "kind.answered": "系统应答", "kind.node": "进入菜单 {node}", "kind.prompt": "播放提示 {prompt}",
    "kind.choice": "按键 {key}", "kind.speech": "语音识别：{intent}", "kind.collected": "输入号码",
    "kind.verification": "身份核验：{result}", "kind.work_order": "生成工单 {number}",
    "kind.no_input": "未输入", "kind.invalid": "输入无效", "kind.queue": "进入队列 {queue}，等待 {wait} 秒",
    "kind.ring": "坐席 {agent} 振铃", "kind.connect": "坐席 {agent} 接通", "kind.hold": "保持",
    "kind.unhold": "取回", "kind.transfer": "转接", "kind.pause": "暂停录音 {length} 秒",
    "kind.hangup": "挂机", "kind.agent_hung_up": "坐席挂机", "kind.hangup_by_flow": "系统挂机",
    "kind.ended": "通话结束",
  },
  en: {
    "qa.title": "Quality", "qa.home": "Home", "qa.search": "Find recordings", "qa.from": "From",
    "qa.to": "To", "qa.agent": "Agent no.", "qa.queue": "Queue", "qa.keyword": "Keyword",
    "qa.keyword.hint": "e.g. complaint, refund", "qa.min_seconds": "Min. length (s)", "qa.find": "Search",
    "qa.col.time": "Time", "qa.col.call": "Call", "qa.col.queue": "Queue", "qa.col.agents": "Agents",
    "qa.col.duration": "Length", "qa.col.status": "Status", "qa.col.evaluator": "Evaluator",
    "qa.col.agent": "Agent", "qa.col.scorecard": "Scorecard", "qa.col.total": "Score",
    "qa.col.at": "Scored at", "qa.count": "{n} recordings", "qa.none": "No recording matches",
    "qa.call": "Call", "qa.caller.left": "Caller (left)", "qa.agent.right": "Agent (right)",
    "qa.timeline": "Timeline", "qa.transcript": "Transcript", "qa.transcript.none": "No transcript yet",
    "qa.transcript.ask": "Transcribe", "qa.transcript.queued": "Queued ({n} ahead); reopen later",
    "qa.transcript.done": "Transcribed; reopen the call to read it",
    "qa.score": "Score", "qa.scorecard": "Scorecard", "qa.comment": "Comment", "qa.submit": "Submit score",
    "qa.na": "N/A", "qa.failed": "Failed", "qa.critical": "Critical items", "qa.points": "pts",
    "qa.scored": "Submitted, score {score}", "qa.evaluations": "Scores of this call",
    "qa.no_evaluations": "Not scored yet", "qa.critical_failed": " (critical)", "qa.before": "before",
    "qa.facts": "{time} · queue {queue} · agents {agents} · {duration}",
    "side.caller": "Caller", "side.agent": "Agent",
    "status.ready": "ready", "status.partial": "partial", "status.recording": "recording",
    "status.missing": "missing", "status.purged": "purged",
    "cat.ivr": "IVR", "cat.queue": "Queue", "cat.ring": "Ring", "cat.connect": "Connect",
    "cat.hold": "Hold", "cat.transfer": "Transfer", "cat.pause": "Recording paused", "cat.end": "End",
    "kind.answered": "IVR answered", "kind.node": "Menu {node}", "kind.prompt": "Prompt {prompt}",
    "kind.choice": "Key {key}", "kind.speech": "Speech: {intent}", "kind.collected": "Number entered",
    "kind.verification": "Verification: {result}", "kind.work_order": "Work order {number}",
    "kind.no_input": "No input", "kind.invalid": "Invalid input", "kind.queue": "Queued in {queue}, waited {wait} s",
    "kind.ring": "Agent {agent} rung", "kind.connect": "Agent {agent} connected", "kind.hold": "Hold",
    "kind.unhold": "Resumed", "kind.transfer": "Transfer", "kind.pause": "Recording paused {length} s",
    "kind.hangup": "Hang-up", "kind.agent_hung_up": "Agent hung up", "kind.hangup_by_flow": "IVR hung up",
    "kind.ended": "Call ended",
  },
});

const QA = {
  recording: null, peaks: null, events: [], segments: [], hits: [], scorecards: [],
  evaluations: [], results: [],
};
const COLORS = { caller: "#0b5cad", agent: "#1e8e3e", pause: "#d98e0433", head: "#c5221f", bg: "#f4f6f8" };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function clock(seconds) {
  const sign = seconds < 0 ? "-" : "";
  const s = Math.abs(seconds);
  return `${sign}${Math.floor(s / 60)}:${(s % 60).toFixed(1).padStart(4, "0")}`;
}

function when(iso) {
  return new Date(iso).toLocaleString(Hotline.lang === "zh" ? "zh-CN" : "en-GB",
    { timeZone: "Asia/Shanghai", hour12: false });
}

function showError(id, err) {
  const box = document.getElementById(id);
  box.textContent = err ? err.message : "";
  box.hidden = !err;
}

// ---- search ------------------------------------------------------------------------------

function searchQuery() {
  const form = document.getElementById("search");
  const params = new URLSearchParams();
  const day = (value, next) => {
    const d = new Date(`${value}T00:00:00+08:00`);
    if (next) d.setUTCDate(d.getUTCDate() + 1);
    return new Date(d.getTime() + 8 * 3600e3).toISOString().slice(0, 19) + "+08:00";
  };
  if (form.from.value) params.set("started_from", day(form.from.value, false));
  if (form.to.value) params.set("started_to", day(form.to.value, true));
  for (const name of ["agent", "queue", "keyword", "min_seconds"]) {
    const value = form[name].value.trim();
    if (value) params.set(name, value);
  }
  params.set("limit", "100");
  return params;
}

async function search() {
  showError("search-error", null);
  try {
    const page = await Hotline.api(`/api/v1/recordings?${searchQuery()}`);
    QA.results = page.items;
    QA.total = page.total;
  } catch (err) {
    showError("search-error", err);
    return;
  }
  renderResults();
}

function renderResults() {
  const body = document.querySelector("#results tbody");
  body.replaceChildren(...QA.results.map((r) => el("tr", {
    "data-recording": r.id, "data-call": r.call_id, tabindex: 0,
    class: QA.recording && QA.recording.id === r.id ? "selected" : null,
    onclick: () => openRecording(r.id),
    onkeydown: (e) => { if (e.key === "Enter") openRecording(r.id); },
  },
  el("td", { text: when(r.started_at) }), el("td", { text: r.call_id }),
  el("td", { text: r.queue || "" }), el("td", { text: r.agents.join(", ") }),
  el("td", { text: r.duration_seconds === null ? "" : clock(r.duration_seconds) }),
  el("td", { text: Hotline.t(`status.${r.status}`) }))));
  document.getElementById("results-count").textContent =
    QA.results.length ? Hotline.t("qa.count", { n: QA.total }) : Hotline.t("qa.none");
}

// ---- one recording -------------------------------------------------------------------------

const PLAYABLE = new Set(["ready", "partial"]);

async function openRecording(id) {
  showError("detail-error", null);
  const listed = QA.results.find((r) => r.id === id);
  let recording, peaks, timeline;
  try {
    [recording, peaks, timeline] = await Promise.all([
      Hotline.api(`/api/v1/recordings/${id}`),
      // No file to outline (still recording, missing, purged): no waveform, the rest shows.
      listed && !PLAYABLE.has(listed.status) ? null : Hotline.api(`/api/v1/recordings/${id}/peaks?points=600`),
      Hotline.api(`/api/v1/recordings/${id}/timeline`),
    ]);
  } catch (err) {
    showError("detail-error", err);
    return;
  }
  QA.recording = recording;
  QA.peaks = peaks;
  QA.events = timeline.events;
  QA.segments = (recording.transcript && recording.transcript.segments) || [];
  QA.hits = (recording.analysis && recording.analysis.keywords) || [];
  document.getElementById("detail").hidden = false;
  document.getElementById("call-id").textContent = recording.call_id;
  const audio = document.getElementById("audio");
  if (PLAYABLE.has(recording.status)) audio.src = `/api/v1/recordings/${id}/audio`;
  else { audio.pause(); audio.removeAttribute("src"); audio.load(); }
  renderResults();
  renderDetail();
  renderScoreForm();
  await loadEvaluations();
}

function duration() {
  const audio = document.getElementById("audio");
  return (QA.peaks && QA.peaks.duration_seconds) || QA.recording.duration_seconds
    || (Number.isFinite(audio.duration) ? audio.duration : 0);
}

function renderDetail() {
  const r = QA.recording;
  document.getElementById("call-facts").textContent = Hotline.t("qa.facts", {
    time: when(r.started_at), queue: r.queue || "-", agents: r.agents.join(", ") || "-",
    duration: r.duration_seconds === null ? "-" : clock(r.duration_seconds),
  });
  renderTimeline();
  renderTranscript();
  drawWaves();
}

function seek(seconds) {
  const audio = document.getElementById("audio");
  audio.currentTime = Math.max(0, Math.min(seconds, duration()));
  follow();
}

// The waveform of each side, the paused spans shaded, the playing position as a line.
function drawWaves() {
  if (!QA.recording) return;
  for (const side of ["caller", "agent"]) {
    const canvas = document.getElementById(`wave-${side}`);
    const width = Math.max(200, Math.floor(canvas.clientWidth * (window.devicePixelRatio || 1)));
    if (canvas.width !== width) canvas.width = width;
    const ctx = canvas.getContext("2d");
    const h = canvas.height;
    ctx.fillStyle = COLORS.bg;
    ctx.fillRect(0, 0, width, h);
    const total = duration();
    if (total > 0) {
      ctx.fillStyle = COLORS.pause;
      for (const [a, b] of QA.recording.pauses) ctx.fillRect(a / total * width, 0, (b - a) / total * width, h);
    }
    const values = QA.peaks && QA.peaks.channels[side];
    if (values && values.length) {
      ctx.fillStyle = COLORS[side];
      // Whole pixels: crisp bars in the side's own colour.
      const step = width / values.length;
      for (let i = 0; i < values.length; i++) {
        const x = Math.floor(i * step);
        const half = Math.max(1, Math.round(values[i] * (h / 2 - 2)));
        ctx.fillRect(x, h / 2 - half, Math.max(1, Math.floor((i + 1) * step) - x), half * 2);
      }
      canvas.dataset.drawn = String(values.length);
    } else {
      canvas.dataset.drawn = "0";
    }
    const now = document.getElementById("audio").currentTime || 0;
    if (total > 0) {
      ctx.fillStyle = COLORS.head;
      ctx.fillRect(Math.min(width - 2, now / total * width), 0, 2, h);
    }
  }
}

function eventText(e) {
  const d = e.detail || {};
  const vars = { ...d, agent: e.agent || "", wait: d.wait_seconds ?? "-",
    length: e.end_offset !== null ? (e.end_offset - e.offset).toFixed(1) : "" };
  const key = `kind.${e.kind}`;
  const text = Hotline.t(key, vars);
  return text === key ? e.kind : text;
}

function renderTimeline() {
  const total = duration();
  const bar = document.getElementById("timeline-bar");
  bar.querySelectorAll(".mark, .span").forEach((m) => m.remove());
  const list = document.getElementById("events");
  list.replaceChildren();
  QA.events.forEach((e, index) => {
    const inRecording = e.offset >= 0 && e.offset <= total;
    const time = e.offset < 0 ? `${Hotline.t("qa.before")} ${clock(e.offset)}` : clock(e.offset);
    list.append(el("li", {
      class: `event cat-${e.category}${inRecording ? " seekable" : ""}`, "data-index": index,
      "data-offset": e.offset, "data-category": e.category,
      onclick: inRecording ? () => seek(e.offset) : null,
    }, el("span", { class: "at", text: time }), el("span", { class: "cat", text: Hotline.t(`cat.${e.category}`) }),
    el("span", { class: "what", text: eventText(e) })));
    if (!inRecording || total <= 0) return;
    const left = `${(e.offset / total) * 100}%`;
    if (e.end_offset !== null && e.category === "pause") {
      bar.append(el("div", { class: `span cat-${e.category}`,
        style: `left:${left};width:${((e.end_offset - e.offset) / total) * 100}%` }));
    } else {
      bar.append(el("div", { class: `mark cat-${e.category}`, style: `left:${left}`, title: eventText(e),
        onclick: () => seek(e.offset) }));
    }
  });
}

function escapeRe(text) { return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

// Keywords spotted in the call (and the one searched for) marked in the text.
function highlighted(text) {
  const words = new Set(QA.hits.flatMap((h) => [h.keyword, h.spoken]).filter(Boolean));
  const searched = document.getElementById("search").keyword.value.trim();
  if (searched) words.add(searched);
  const span = el("span", { class: "text" });
  if (!words.size) { span.textContent = text; return span; }
  const re = new RegExp(`(${[...words].sort((a, b) => b.length - a.length).map(escapeRe).join("|")})`, "g");
  for (const part of text.split(re)) {
    if (!part) continue;
    span.append(words.has(part) ? el("mark", { text: part }) : document.createTextNode(part));
  }
  return span;
}

function renderTranscript() {
  document.getElementById("keywords").replaceChildren(...QA.hits.map((h) => el("button", {
    type: "button", class: `keyword side-${h.channel}`, onclick: () => seek(h.start),
    text: `${h.keyword} · ${Hotline.t(`side.${h.channel}`)} ${clock(h.start)}`,
  })));
  const box = document.getElementById("transcript");
  box.replaceChildren(...QA.segments.map((s, index) => el("p", {
    class: `segment side-${s.channel}`, "data-index": index, onclick: () => seek(s.start),
  }, el("span", { class: "who", text: `${Hotline.t(`side.${s.channel}`)} ${clock(s.start)}` }),
  highlighted(s.text))));
  const none = !QA.segments.length;
  document.getElementById("ask-transcript").hidden = !none || !PLAYABLE.has(QA.recording.status);
  document.getElementById("transcript-note").textContent = none ? Hotline.t("qa.transcript.none") : "";
}

async function askTranscript() {
  try {
    const answer = await Hotline.api(`/api/v1/recordings/${QA.recording.id}/transcript`, { method: "POST" });
    document.getElementById("transcript-note").textContent = answer.queued
      ? Hotline.t("qa.transcript.queued", { n: answer.backlog }) : Hotline.t("qa.transcript.done");
  } catch (err) {
    document.getElementById("transcript-note").textContent = err.message;
  }
}

// Playback moves the marks: the waveform line, the timeline's head, the current event and
// the sentence being spoken.
function follow() {
  if (!QA.recording) return;
  const now = document.getElementById("audio").currentTime || 0;
  const total = duration();
  drawWaves();
  const head = document.querySelector("#timeline-bar .playhead");
  head.style.left = `${total > 0 ? Math.min(100, (now / total) * 100) : 0}%`;
  let current = -1;
  QA.events.forEach((e, i) => { if (e.offset <= now + 0.05) current = i; });
  document.querySelectorAll("#events li").forEach((li) => {
    li.classList.toggle("current", Number(li.dataset.index) === current);
    li.classList.toggle("past", Number(li.dataset.offset) <= now + 0.05);
  });
  document.querySelectorAll("#transcript .segment").forEach((p) => {
    const s = QA.segments[Number(p.dataset.index)];
    p.classList.toggle("current", s.start <= now && now < s.end);
  });
}

function followWhilePlaying() {
  const audio = document.getElementById("audio");
  const tick = () => {
    follow();
    if (!audio.paused && !audio.ended) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

// ---- scoring ---------------------------------------------------------------------------------

function renderScoreForm() {
  const form = document.getElementById("score");
  const select = form.scorecard;
  if (!select.options.length) {
    for (const card of QA.scorecards) select.append(el("option", { value: card.name, text: `${card.title} (v${card.version})` }));
  }
  const agents = QA.recording ? QA.recording.agents : [];
  document.getElementById("agent-choice").hidden = agents.length < 2;
  form.agent.replaceChildren(...agents.map((a) => el("option", { value: a, text: a })));
  document.getElementById("score-done").hidden = true;
  showError("score-error", null);
  const card = QA.scorecards.find((c) => c.name === select.value);
  const box = document.getElementById("questions");
  box.replaceChildren();
  if (!card) return;
  for (const section of card.sections) {
    const fields = el("fieldset", { class: "section" }, el("legend", { text: `${section.title}（${section.weight}）` }));
    for (const q of section.questions) {
      fields.append(el("div", { class: "question", "data-question": q.id },
        el("span", { class: "q-text", text: q.text }),
        el("input", { type: "number", name: `points-${q.id}`, min: 0, max: q.points, step: 0.5,
          value: q.points, required: true, "aria-label": q.text }),
        el("span", { class: "muted", text: `/ ${q.points}` }),
        q.na ? el("label", { class: "na" }, el("input", { type: "checkbox", name: `na-${q.id}`,
          onchange: (e) => { form[`points-${q.id}`].disabled = e.target.checked; } }),
        el("span", { "data-i18n": "qa.na", text: Hotline.t("qa.na") })) : el("span")));
    }
    box.append(fields);
  }
  if (card.critical.length) {
    const fields = el("fieldset", { class: "section critical" }, el("legend", { "data-i18n": "qa.critical", text: Hotline.t("qa.critical") }));
    for (const c of card.critical) {
      fields.append(el("div", { class: "question", "data-question": c.id },
        el("span", { class: "q-text", text: c.text }),
        el("label", { class: "na" }, el("input", { type: "checkbox", name: `failed-${c.id}` }),
          el("span", { "data-i18n": "qa.failed", text: Hotline.t("qa.failed") }))));
    }
    box.append(fields);
  }
}

function answers(card) {
  const form = document.getElementById("score");
  const out = [];
  for (const section of card.sections) {
    for (const q of section.questions) {
      const na = form[`na-${q.id}`];
      if (na && na.checked) out.push({ question: q.id, na: true });
      else out.push({ question: q.id, points: Number(form[`points-${q.id}`].value) });
    }
  }
  for (const c of card.critical) out.push({ question: c.id, failed: form[`failed-${c.id}`].checked });
  return out;
}

async function submitScore(event) {
  event.preventDefault();
  const form = event.target;
  const card = QA.scorecards.find((c) => c.name === form.scorecard.value);
  showError("score-error", null);
  document.getElementById("score-done").hidden = true;
  const body = { call_id: QA.recording.call_id, scorecard: card.name, answers: answers(card),
    comment: form.comment.value.trim() || null };
  if (QA.recording.agents.length > 1) body.agent = form.agent.value;
  try {
    const made = await Hotline.api("/api/v1/evaluations", { method: "POST", json: body });
    const done = document.getElementById("score-done");
    done.textContent = Hotline.t("qa.scored", { score: made.total_score.toFixed(1) });
    done.hidden = false;
  } catch (err) {
    const details = (err.details && Array.isArray(err.details)) ? err.details : [];
    showError("score-error", { message: [err.message, ...details.map((d) => d.problem)].join("；") });
    return;
  }
  await loadEvaluations();
}

async function loadEvaluations() {
  const page = await Hotline.api(`/api/v1/evaluations?call_id=${encodeURIComponent(QA.recording.call_id)}&limit=100`);
  QA.evaluations = page.items;
  renderEvaluations();
}

function renderEvaluations() {
  const body = document.querySelector("#evaluations tbody");
  if (!QA.evaluations.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted", text: Hotline.t("qa.no_evaluations") })));
    return;
  }
  body.replaceChildren(...QA.evaluations.map((e) => el("tr", { "data-evaluation": e.id },
    el("td", { text: e.evaluator }), el("td", { text: e.agent ? `${e.agent} ${e.agent_name || ""}` : "-" }),
    el("td", { text: `${e.scorecard.name} v${e.scorecard.version}` }),
    el("td", { class: "total", text: e.total_score.toFixed(1) + (e.critical_failed ? Hotline.t("qa.critical_failed") : "") }),
    el("td", { text: when(e.created_at) }))));
}

// ---- start -----------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  const who = await Hotline.login(["qa", "supervisor"]);
  document.getElementById("who").textContent = who.username;
  document.querySelector("[data-logout]").hidden = false;
  document.getElementById("content").hidden = false;
  document.getElementById("search").addEventListener("submit", (e) => { e.preventDefault(); search(); });
  document.getElementById("score").addEventListener("submit", submitScore);
  document.querySelector("#score select[name=scorecard]").addEventListener("change", renderScoreForm);
  document.getElementById("ask-transcript").addEventListener("click", askTranscript);
  const audio = document.getElementById("audio");
  audio.addEventListener("playing", followWhilePlaying);
  for (const name of ["timeupdate", "seeked", "loadedmetadata"]) audio.addEventListener(name, follow);
  for (const side of ["caller", "agent"]) {
    document.getElementById(`wave-${side}`).addEventListener("click", (e) => {
      const box = e.currentTarget.getBoundingClientRect();
      seek(((e.clientX - box.left) / box.width) * duration());
    });
  }
  window.addEventListener("resize", drawWaves);
  document.addEventListener("hotline:lang", () => {
    renderResults();
    if (QA.recording) { renderDetail(); renderEvaluations(); follow(); }
  });
  QA.scorecards = await Hotline.api("/api/v1/scorecards");
  await search();
});
