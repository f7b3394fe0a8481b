// The reports page 统计分析: the figures of /api/v1/stats (definitions: docs/statistics.md),
// an interval chart drawn here as inline SVG, the CSV export, and the Erlang C staffing for
// the busiest hour of the period.
"use strict";

Hotline.addTexts({
  zh: {
    "reports.title": "统计分析", "reports.from": "开始日期", "reports.to": "结束日期",
    "reports.by": "分组", "reports.by.center": "中心", "reports.by.queue": "队列",
    "reports.by.agent": "坐席", "reports.by.ivr": "IVR 菜单分支", "reports.interval": "时段",
    "reports.interval.hour": "每小时", "reports.interval.15m": "每15分钟",
    "reports.interval.day": "每天", "reports.interval.none": "整个期间", "reports.show": "查询",
    "reports.csv": "导出 CSV", "reports.totals": "合计", "reports.chart": "呼入与接通",
    "reports.rows": "明细", "reports.staffing": "人员配置（Erlang C）",
    "reports.definitions": "口径说明：", "reports.target": "服务水平目标 (%/秒)",
    "reports.max_occupancy": "最高占用率", "reports.recompute": "重新计算",
    "reports.busiest": "最忙时段 {start}：进线 {offered} 个，平均处理时长 {aht} 秒",
    "reports.need": "需要 {agents} 名坐席：服务水平 {sl}，平均应答 {asa} 秒，占用率 {occ}，话务量 {erl} Erlang",
    "reports.no_traffic": "此期间没有进线", "reports.no_rows": "此期间没有数据",
    "col.key": "分组", "col.start": "时段", "col.offered": "进线", "col.answered": "接通",
    "col.abandoned": "放弃", "col.short_abandoned": "短时放弃", "col.answer_rate": "人工接通率",
    "col.service_level": "服务水平", "col.asa_s": "平均应答(秒)", "col.aht_s": "平均处理(秒)",
    "col.callbacks_requested": "预约回拨", "col.callback_offers": "回拨尝试",
    "col.callbacks_answered": "回拨接通", "col.overflow_in": "溢入", "col.overflow_out": "溢出",
    "col.platform_ended": "平台中断", "col.occupancy": "占用率", "col.login_s": "登录(秒)",
    "col.paused_s": "暂停(秒)", "col.calls": "呼入", "col.ivr_completion_rate": "自助完成率",
    "col.speech_share": "语音选择占比", "col.confirmation_rate": "确认率",
  },
  en: {
    "reports.title": "Reports", "reports.from": "From", "reports.to": "To", "reports.by": "By",
    "reports.by.center": "Center", "reports.by.queue": "Queue", "reports.by.agent": "Agent",
    "reports.by.ivr": "IVR branch", "reports.interval": "Interval",
    "reports.interval.hour": "Hourly", "reports.interval.15m": "15 minutes",
    "reports.interval.day": "Daily", "reports.interval.none": "Whole period",
    "reports.show": "Show", "reports.csv": "Export CSV", "reports.totals": "Totals",
    "reports.chart": "Offered and answered", "reports.rows": "Rows",
    "reports.staffing": "Staffing (Erlang C)", "reports.definitions": "Definitions:",
    "reports.target": "Service-level target (%/s)", "reports.max_occupancy": "Max occupancy",
    "reports.recompute": "Recompute",
    "reports.busiest": "Busiest hour {start}: {offered} offered, AHT {aht} s",
    "reports.need": "{agents} agents needed: service level {sl}, ASA {asa} s, occupancy {occ}, traffic {erl} Erlangs",
    "reports.no_traffic": "Nothing was offered in this period", "reports.no_rows": "No data in this period",
    "col.key": "Key", "col.start": "Start", "col.offered": "Offered", "col.answered": "Answered",
    "col.abandoned": "Abandoned", "col.short_abandoned": "Short abandons",
    "col.answer_rate": "Answer rate", "col.service_level": "Service level",
    "col.asa_s": "ASA (s)", "col.aht_s": "AHT (s)", "col.callbacks_requested": "Callbacks booked",
    "col.callback_offers": "Callback attempts", "col.callbacks_answered": "Callbacks answered",
    "col.overflow_in": "Overflow in", "col.overflow_out": "Overflow out",
    "col.platform_ended": "Platform-ended", "col.occupancy": "Occupancy",
    "col.login_s": "Logged in (s)", "col.paused_s": "Paused (s)", "col.calls": "Calls",
    "col.ivr_completion_rate": "IVR completion", "col.speech_share": "Speech share",
    "col.confirmation_rate": "Confirmation rate",
  },
});

const RATES = new Set(["answer_rate", "service_level", "occupancy", "ivr_completion_rate",
                       "speech_share", "confirmation_rate"]);
const TILES = ["offered", "answered", "abandoned", "short_abandoned", "answer_rate",
               "service_level", "asa_s", "aht_s", "callbacks_requested", "callback_offers",
               "overflow_in", "overflow_out", "platform_ended", "occupancy", "calls",
               "ivr_completion_rate", "speech_share", "confirmation_rate"];
const COLUMNS = ["offered", "answered", "abandoned", "short_abandoned", "answer_rate",
                 "service_level", "asa_s", "aht_s", "callback_offers", "overflow_in",
                 "overflow_out", "platform_ended", "occupancy", "login_s", "paused_s", "calls",
                 "ivr_completion_rate"];
const SVG = "http://www.w3.org/2000/svg";
let last = null; // the report shown, redrawn when the language changes

function show(key, value) {
  if (value === null || value === undefined) return "–";
  if (RATES.has(key)) return `${(value * 100).toFixed(1)}%`;
  if (typeof value === "number" && !Number.isInteger(value)) return value.toFixed(1);
  return String(value);
}

function el(tag, attrs, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function startLabel(start, interval) {
  if (!interval) return "";
  return interval === "day" ? start.slice(0, 10) : start.slice(5, 16).replace("T", " ");
}

function params(form) {
  const q = new URLSearchParams({ from: form.from.value, to: form.to.value, by: form.by.value });
  if (form.interval.value) q.set("interval", form.interval.value);
  return q;
}

function renderTotals(data) {
  const box = document.getElementById("totals");
  box.replaceChildren(...TILES.map((key) => {
    const tile = el("div", { class: "tile", "data-key": key });
    tile.append(el("div", { class: "label" }, Hotline.t(`col.${key}`)),
                el("div", { class: "value" }, show(key, data.totals[key])));
    return tile;
  }));
}

function renderRows(data) {
  const table = document.getElementById("rows");
  const head = el("tr");
  for (const key of ["key", "start", ...COLUMNS]) head.append(el("th", {}, Hotline.t(`col.${key}`)));
  const body = data.rows.map((row) => {
    const tr = el("tr", { "data-key": row.key });
    tr.append(el("td", {}, row.key), el("td", {}, startLabel(row.start, data.interval)));
    for (const key of COLUMNS) tr.append(el("td", { "data-col": key }, show(key, row[key])));
    return tr;
  });
  if (!body.length) {
    const empty = el("tr");
    empty.append(el("td", { colspan: String(COLUMNS.length + 2), class: "muted" }, Hotline.t("reports.no_rows")));
    body.push(empty);
  }
  table.replaceChildren(el("thead"), el("tbody"));
  table.tHead.append(head);
  table.tBodies[0].append(...body);
}

// Offered and answered bars per interval (or per key without an interval), answer-rate line.
function renderChart(data) {
  const groups = new Map();
  for (const row of data.rows) {
    const x = data.interval ? row.start : row.key;
    const g = groups.get(x) || { offered: 0, answered: 0 };
    g.offered += row.offered;
    g.answered += row.answered;
    groups.set(x, g);
  }
  const xs = [...groups.keys()].sort();
  const box = document.getElementById("chart");
  const width = 900, height = 260, left = 40, bottom = 40, top = 10;
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
                              "aria-label": Hotline.t("reports.chart") });
  const max = Math.max(1, ...xs.map((x) => groups.get(x).offered));
  const plotH = height - bottom - top;
  const step = xs.length ? (width - left) / xs.length : 0;
  const bar = Math.min(40, Math.max(2, step * 0.35));
  svg.append(el("svg:line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#999" }));
  svg.append(el("svg:text", { x: 2, y: top + 10 }, String(max)));
  svg.append(el("svg:text", { x: 2, y: height - bottom }, "0"));
  const points = [];
  xs.forEach((x, i) => {
    const g = groups.get(x);
    const x0 = left + i * step + step * 0.1;
    const hOff = (g.offered / max) * plotH, hAns = (g.answered / max) * plotH;
    const offered = el("svg:rect", { class: "offered", x: x0, y: height - bottom - hOff, width: bar, height: hOff, "data-x": x });
    offered.append(el("svg:title", {}, `${Hotline.t("col.offered")} ${g.offered}`));
    const answered = el("svg:rect", { class: "answered", x: x0 + bar, y: height - bottom - hAns, width: bar, height: hAns, "data-x": x });
    answered.append(el("svg:title", {}, `${Hotline.t("col.answered")} ${g.answered}`));
    svg.append(offered, answered);
    if (g.offered) points.push(`${x0 + bar},${top + plotH * (1 - g.answered / g.offered)}`);
    if (xs.length <= 24 || i % Math.ceil(xs.length / 24) === 0) {
      svg.append(el("svg:text", { x: x0, y: height - bottom + 14 }, data.interval ? startLabel(x, data.interval) : x));
    }
  });
  if (points.length > 1) svg.append(el("svg:polyline", { class: "rate", points: points.join(" ") }));
  const legend = el("p", { class: "legend muted" });
  for (const [cls, key] of [["offered", "col.offered"], ["answered", "col.answered"]]) {
    const item = el("span");
    item.append(el("i", { class: cls, style: `background: ${cls === "offered" ? "#9bbbe0" : "var(--brand)"}` }), Hotline.t(key));
    legend.append(item);
  }
  legend.append(el("span", { class: "ok" }, `— ${Hotline.t("col.answer_rate")}`));
  box.replaceChildren(svg, legend);
}

async function renderStaffing(form) {
  const staffForm = document.getElementById("staffing-form");
  const q = new URLSearchParams({ from: form.from.value, to: form.to.value,
                                  target: staffForm.target.value, max_occupancy: staffForm.max_occupancy.value });
  const box = document.getElementById("staffing");
  try {
    const busiest = await Hotline.api(`/api/v1/stats/busiest-hour?${q}`);
    if (!busiest.start) {
      box.replaceChildren(el("p", { class: "muted" }, Hotline.t("reports.no_traffic")));
      return;
    }
    const lines = [el("p", { id: "busiest" }, Hotline.t("reports.busiest", {
      start: busiest.start.slice(0, 16).replace("T", " "), offered: busiest.offered, aht: show("aht_s", busiest.aht_s) }))];
    const s = busiest.staffing;
    if (s) {
      lines.push(el("p", { id: "need" }, Hotline.t("reports.need", {
        agents: s.agents, sl: show("service_level", s.service_level), asa: s.asa_s.toFixed(1),
        occ: show("occupancy", s.occupancy), erl: s.traffic_erlangs.toFixed(2) })));
    }
    box.replaceChildren(...lines);
  } catch (err) {
    box.replaceChildren(el("p", { class: "error" }, err.message));
  }
}

async function load(form) {
  const error = form.querySelector(".error");
  error.hidden = true;
  const q = params(form);
  const csv = new URLSearchParams(q);
  csv.set("format", "csv");
  document.getElementById("csv").href = `/api/v1/stats?${csv}`;
  try {
    last = await Hotline.api(`/api/v1/stats?${q}`);
    renderTotals(last);
    renderChart(last);
    renderRows(last);
    document.getElementById("content").dataset.loaded = q.toString();
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  }
  await renderStaffing(form);
}

document.addEventListener("DOMContentLoaded", async () => {
  const who = await Hotline.login(["supervisor"]);
  document.getElementById("who").textContent = who.username;
  document.querySelector("[data-logout]").hidden = false;
  document.getElementById("content").hidden = false;
  const form = document.getElementById("query");
  const url = new URLSearchParams(location.search);
  const today = new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Shanghai" });
  form.from.value = url.get("from") || today;
  form.to.value = url.get("to") || today;
  if (url.get("by")) form.by.value = url.get("by");
  if (url.has("interval")) form.interval.value = url.get("interval");
  form.addEventListener("submit", (event) => { event.preventDefault(); load(form); });
  document.getElementById("staffing-form").addEventListener("submit", (event) => {
    event.preventDefault();
    renderStaffing(form);
  });
  document.addEventListener("hotline:lang", () => {
    if (last) { renderTotals(last); renderChart(last); renderRows(last); renderStaffing(form); }
  });
  await load(form);
});
