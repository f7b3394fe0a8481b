// The agent desk 坐席工作台: state, the screen pop of a ringing call, call controls, work orders.
"use strict";

Hotline.addTexts({
  zh: {
    "desk.no": "工号", "desk.ready": "就绪", "desk.pause": "暂停", "desk.exit": "退出",
    "desk.call": "通话", "desk.hold": "保持", "desk.unhold": "取回", "desk.mute": "静音",
    "desk.unmute": "取消静音", "desk.hangup": "挂断", "desk.rec_pause": "暂停录音",
    "desk.rec_resume": "恢复录音", "desk.to_queue": "转队列", "desk.to_agent": "转坐席",
    "desk.target": "队列或工号", "desk.transfer": "转接", "desk.consult_agent": "咨询工号",
    "desk.consult": "咨询", "desk.complete": "完成转接", "desk.cancel": "取消咨询",
    "desk.work_order": "工单", "desk.notes": "备注", "desk.add_note": "备注记入工单",
    "desk.caller": "来电信息", "desk.no_call": "暂无来电",
    "desk.not_agent": "此账号不是坐席，无法使用坐席工作台",
    "desk.wrapup": "话后处理：剩余 {s} 秒", "desk.live": "实时连接", "desk.offline": "未连接实时事件",
    "call.ringing": "振铃中", "call.talking": "通话中", "call.held": "保持中",
    "call.consulting": "咨询中", "call.transferred": "已转接", "call.ended": "已结束",
    "call.muted": "（已静音）", "call.rec_paused": "（录音已暂停）",
    "state.logged_out": "已退出", "state.ready": "就绪", "state.ringing": "振铃",
    "state.on_call": "通话中", "state.wrap_up": "话后处理", "state.paused": "暂停",
    "reason.小休": "小休", "reason.用餐": "用餐", "reason.培训": "培训", "reason.会议": "会议",
    "reason.未接": "未接",
    "wo.type": "类型", "wo.consultation": "咨询", "wo.complaint": "投诉", "wo.help": "求助",
    "wo.lost_item": "失物", "wo.praise": "表扬", "wo.suggestion": "建议", "wo.priority": "加急",
    "wo.content": "内容", "wo.save": "保存工单", "wo.saved": "已保存 {n}",
    "wo.for_call": "本次来电的工单", "wo.note_added": "备注已记入 {n}",
    "pop.caller": "来电号码", "pop.queue": "队列", "pop.path": "菜单路径", "pop.intent": "意图",
    "pop.transcript": "语音内容", "pop.order": "订单号", "pop.language": "语言",
    "pop.priority": "重点旅客", "pop.wait": "等待", "pop.overflow": "溢出来源",
    "pop.recent": "近7天来电", "pop.work_orders": "该号码的工单", "pop.seconds": "{s} 秒",
    "pop.times": "{n} 次", "yes": "是", "no": "否", "none": "无",
    "lang.zh": "中文", "lang.en": "英语",
    "intent.agent": "转人工", "intent.ticket_query": "查询车票", "intent.refund": "退票",
    "intent.change": "改签", "intent.train_status": "列车状态", "intent.lost_item": "失物招领",
    "intent.complaint": "投诉", "intent.assistance": "重点旅客帮助",
    "prefill.intent": "来电意图：{v}", "prefill.transcript": "旅客原话：{v}",
    "prefill.path": "菜单路径：{v}", "prefill.order": "订单号：{v}",
  },
  en: {
    "desk.no": "No.", "desk.ready": "Ready", "desk.pause": "Pause", "desk.exit": "Log out of queues",
    "desk.call": "Call", "desk.hold": "Hold", "desk.unhold": "Unhold", "desk.mute": "Mute",
    "desk.unmute": "Unmute", "desk.hangup": "Hang up", "desk.rec_pause": "Pause recording",
    "desk.rec_resume": "Resume recording", "desk.to_queue": "to queue", "desk.to_agent": "to agent",
    "desk.target": "queue or agent no.", "desk.transfer": "Transfer",
    "desk.consult_agent": "agent no.", "desk.consult": "Consult", "desk.complete": "Complete",
    "desk.cancel": "Cancel consult", "desk.work_order": "Work order", "desk.notes": "Notes",
    "desk.add_note": "Add note to work order", "desk.caller": "Caller", "desk.no_call": "No call",
    "desk.not_agent": "This account is not an agent: the desk needs an agent login",
    "desk.wrapup": "Wrap-up: {s} s left", "desk.live": "live", "desk.offline": "no live events",
    "call.ringing": "ringing", "call.talking": "talking", "call.held": "on hold",
    "call.consulting": "consulting", "call.transferred": "transferred", "call.ended": "ended",
    "call.muted": " (muted)", "call.rec_paused": " (recording paused)",
    "state.logged_out": "Logged out", "state.ready": "Ready", "state.ringing": "Ringing",
    "state.on_call": "On call", "state.wrap_up": "Wrap-up", "state.paused": "Paused",
    "reason.小休": "Break", "reason.用餐": "Meal", "reason.培训": "Training",
    "reason.会议": "Meeting", "reason.未接": "Missed call",
    "wo.type": "Type", "wo.consultation": "Consultation", "wo.complaint": "Complaint",
    "wo.help": "Help request", "wo.lost_item": "Lost item", "wo.praise": "Praise",
    "wo.suggestion": "Suggestion", "wo.priority": "Urgent", "wo.content": "Content",
    "wo.save": "Save work order", "wo.saved": "Saved {n}", "wo.for_call": "Work orders of this call",
    "wo.note_added": "Note added to {n}",
    "pop.caller": "Caller", "pop.queue": "Queue", "pop.path": "Menu path", "pop.intent": "Intent",
    "pop.transcript": "Transcript", "pop.order": "Order no.", "pop.language": "Language",
    "pop.priority": "Priority passenger", "pop.wait": "Waited", "pop.overflow": "Overflow from",
    "pop.recent": "Calls in 7 days", "pop.work_orders": "This number's work orders",
    "pop.seconds": "{s} s", "pop.times": "{n}", "yes": "yes", "no": "no", "none": "none",
    "lang.zh": "Chinese", "lang.en": "English",
    "intent.agent": "agent", "intent.ticket_query": "ticket query", "intent.refund": "refund",
    "intent.change": "change ticket", "intent.train_status": "train status",
    "intent.lost_item": "lost item", "intent.complaint": "complaint",
    "intent.assistance": "assistance",
    "prefill.intent": "Intent: {v}", "prefill.transcript": "Caller said: {v}",
    "prefill.path": "Menu path: {v}", "prefill.order": "Order: {v}",
  },
});

// The work order type a recognised intent suggests.
const INTENT_TYPES = { complaint: "complaint", lost_item: "lost_item", assistance: "help" };
const CALL_STATES = ["talking", "held", "consulting", "transferred", "ended"];

const Desk = {
  agent: null,        // 工号
  state: null,        // {state, reason}
  call: null,         // {id, pop, status, muted, recPaused, live}
  orders: [],         // work orders saved for the current call
  wrapTimer: null,
  $(id) { return document.getElementById(id); },

  show(error) {
    const box = this.$("message");
    box.textContent = error ? (error.message || String(error)) : "";
    box.hidden = !error;
  },

  async run() {
    const who = await Hotline.login(["agent"]);
    document.querySelector("[data-logout]").hidden = false;
    if (!who.agent) {
      this.$("desk").hidden = false;
      this.show({ message: Hotline.t("desk.not_agent") });
      this.$("state-panel").hidden = true;
      return;
    }
    this.agent = who.agent;
    this.$("agent-name").textContent = who.agent_name || who.username;
    this.$("agent-no").textContent = who.agent;
    this.$("who").hidden = false;
    this.$("desk").hidden = false;
    this.bind();
    document.addEventListener("hotline:lang", () => this.render());
    try {
      const me = await Hotline.api(`/api/v1/agents/${who.agent}`);
      this.setState(me.state, me.reason);
    } catch (err) { this.show(err); }
    Hotline.socket(`/api/v1/agents/${who.agent}/events`, (m) => this.onEvent(m), (s) => {
      this.$("link").textContent = Hotline.t(s === "open" ? "desk.live" : "desk.offline");
      this.$("link").className = s === "open" ? "ok" : "muted";
    });
  },

  bind() {
    this.$("btn-ready").addEventListener("click", () => this.changeState("ready"));
    this.$("btn-pause").addEventListener("click", () => this.changeState("paused", this.$("pause-reason").value));
    this.$("btn-exit").addEventListener("click", () => this.changeState("logged_out"));
    const control = (id, action, body) => this.$(id).addEventListener("click", () => this.control(action, body && body()));
    control("btn-hold", "hold");
    control("btn-unhold", "unhold");
    control("btn-mute", "mute", () => ({ muted: true }));
    control("btn-unmute", "mute", () => ({ muted: false }));
    control("btn-hangup", "hangup");
    control("btn-transfer", "transfer", () => ({ [this.$("transfer-kind").value]: this.$("transfer-target").value.trim() }));
    control("btn-consult", "consult", () => ({ agent: this.$("consult-agent").value.trim() }));
    control("btn-consult-complete", "complete");
    control("btn-consult-cancel", "cancel");
    this.$("btn-rec-pause").addEventListener("click", () => this.recording("pause"));
    this.$("btn-rec-resume").addEventListener("click", () => this.recording("resume"));
    this.$("wo-form").addEventListener("submit", (e) => { e.preventDefault(); this.saveOrder(); });
    this.$("btn-note").addEventListener("click", () => this.addNote());
    this.$("notes").addEventListener("input", () => {
      if (this.call) localStorage.setItem(`hotline.notes.${this.call.id}`, this.$("notes").value);
    });
  },

  async changeState(state, reason) {
    this.show(null);
    try {
      const me = await Hotline.api(`/api/v1/agents/${this.agent}/state`, { method: "POST", json: { state, reason } });
      this.setState(me.state, me.reason);
    } catch (err) { this.show(err); }
  },

  setState(state, reason, seconds) {
    this.state = { state, reason };
    clearInterval(this.wrapTimer);
    this.$("wrapup").hidden = true;
    if (state === "wrap_up" && seconds) {
      const until = Date.now() + seconds * 1000;
      const tick = () => {
        const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        this.$("wrapup").textContent = Hotline.t("desk.wrapup", { s: left });
        this.$("wrapup").hidden = false;
        if (left === 0) clearInterval(this.wrapTimer);
      };
      tick();
      this.wrapTimer = setInterval(tick, 250);
    }
    if (state === "on_call" && this.call) this.call.status = "talking";
    if ((state === "ready" || state === "paused" || state === "logged_out" || state === "wrap_up") && this.call) {
      if (this.call.live) this.call.status = "ended";  // the agent's leg is over
      this.call.live = false;
    }
    this.render();
  },

  onEvent(m) {
    if (m.kind === "agent.snapshot" || m.kind === "agent.state") {
      if (m.kind === "agent.state" && m.state === "ringing" && m.call_id && (!this.call || this.call.id !== m.call_id)) {
        this.newCall(m.call_id, null);
      }
      this.setState(m.state, m.reason, m.seconds);
    } else if (m.kind === "agent.ringing") {
      if (!this.call || this.call.id !== m.call_id) this.newCall(m.call_id, m);
      else { this.call.pop = m; this.prefill(); }
      this.render();
    } else if (m.kind === "agent.connected" && this.call && this.call.id === m.call_id) {
      this.call.status = "talking";
      this.render();
    } else if (m.call_id && this.call && m.call_id === this.call.id && CALL_STATES.includes(m.state)) {
      this.call.status = m.state;  // a call control's event (held, transferred, ...)
      this.render();
    }
  },

  newCall(id, pop) {
    this.call = { id, pop, status: "ringing", muted: false, recPaused: false, live: true };
    this.orders = [];
    this.$("wo-result").textContent = "";
    this.$("notes").value = localStorage.getItem(`hotline.notes.${id}`) || "";
    this.prefill();
  },

  intentText(intent) {
    if (!intent) return Hotline.t("none");
    const label = Hotline.t(`intent.${intent}`);
    return label === `intent.${intent}` ? intent : `${label} (${intent})`;
  },

  // The work order form filled from what the menu learned; the agent edits before saving.
  prefill() {
    const ctx = (this.call && this.call.pop && this.call.pop.context) || null;
    if (!ctx) return;
    const form = this.$("wo-form");
    const lines = [];
    if (ctx.intent) lines.push(Hotline.t("prefill.intent", { v: this.intentText(ctx.intent) }));
    if (ctx.transcript) lines.push(Hotline.t("prefill.transcript", { v: ctx.transcript }));
    if (ctx.ivr_path && ctx.ivr_path.length) lines.push(Hotline.t("prefill.path", { v: ctx.ivr_path.join(" → ") }));
    if (ctx.order_number) lines.push(Hotline.t("prefill.order", { v: ctx.order_number }));
    form.content.value = lines.join("\n") + (lines.length ? "\n" : "");
    form.type.value = INTENT_TYPES[ctx.intent] || "consultation";
    form.priority.checked = !!ctx.priority;
  },

  async control(action, body) {
    if (!this.call) return;
    this.show(null);
    try {
      const out = await Hotline.api(`/api/v1/calls/${encodeURIComponent(this.call.id)}/${action}`,
                                    { method: "POST", json: body });
      if (out && out.state) this.call.status = out.state;
      if (action === "mute") this.call.muted = !!(body && body.muted);
      if (out && (out.state === "ended" || out.state === "transferred")) this.call.live = false;
      this.render();
    } catch (err) { this.show(err); }
  },

  async recording(action) {
    if (!this.call) return;
    this.show(null);
    try {
      await Hotline.api(`/api/v1/calls/${encodeURIComponent(this.call.id)}/recording/${action}`, { method: "POST" });
      this.call.recPaused = action === "pause";
      this.render();
    } catch (err) { this.show(err); }
  },

  async saveOrder() {
    if (!this.call) return;
    const form = this.$("wo-form");
    this.show(null);
    try {
      const wo = await Hotline.api("/api/v1/work-orders", { method: "POST", json: {
        type: form.type.value, content: form.content.value.trim(), priority: form.priority.checked,
        call_id: this.call.id, channel: "voice",
      } });
      this.$("wo-result").textContent = Hotline.t("wo.saved", { n: wo.number });
      await this.listOrders();
    } catch (err) { this.show(err); }
  },

  async listOrders() {
    const page = await Hotline.api(`/api/v1/work-orders?call_id=${encodeURIComponent(this.call.id)}&limit=20`);
    this.orders = page.items;
    this.render();
  },

  async addNote() {
    const note = this.$("notes").value.trim();
    if (!note || !this.orders.length) return;
    this.show(null);
    try {
      const wo = this.orders[0];
      await Hotline.api(`/api/v1/work-orders/${wo.id}/comments`, { method: "POST", json: { note } });
      this.$("wo-result").textContent = Hotline.t("wo.note_added", { n: wo.number });
    } catch (err) { this.show(err); }
  },

  render() {
    const st = this.state || { state: "logged_out" };
    const badge = this.$("state");
    badge.hidden = false;
    badge.dataset.state = st.state;
    badge.textContent = Hotline.t(`state.${st.state}`) + (st.reason ? ` · ${Hotline.t(`reason.${st.reason}`)}` : "");
    const busy = ["ringing", "on_call"].includes(st.state);
    this.$("btn-ready").disabled = busy || st.state === "ready";
    this.$("btn-pause").disabled = busy || st.state === "logged_out";
    this.$("btn-exit").disabled = st.state === "logged_out";

    const call = this.call;
    const live = !!(call && call.live && st.state === "on_call");
    const status = call ? call.status : null;
    for (const id of ["btn-hangup", "btn-transfer", "btn-rec-pause", "btn-rec-resume", "btn-consult"]) {
      this.$(id).disabled = !live;
    }
    this.$("btn-hold").disabled = !live || status === "held";
    this.$("btn-unhold").disabled = !live || status !== "held";
    this.$("btn-mute").disabled = !live || call.muted;
    this.$("btn-unmute").disabled = !live || !call.muted;
    this.$("btn-consult-complete").disabled = !live || status !== "consulting";
    this.$("btn-consult-cancel").disabled = !live || status !== "consulting";
    this.$("btn-rec-pause").disabled = !live || call.recPaused;
    this.$("btn-rec-resume").disabled = !live || !call.recPaused;
    this.$("call-status").textContent = call
      ? Hotline.t(`call.${status}`) + (call.muted ? Hotline.t("call.muted") : "") + (call.recPaused ? Hotline.t("call.rec_paused") : "")
      : "";
    this.$("wo-save").disabled = !call;
    this.$("btn-note").disabled = !this.orders.length;

    const list = this.$("wo-list");
    list.replaceChildren(...this.orders.map((w) => {
      const li = document.createElement("li");
      li.textContent = `${w.number} · ${Hotline.t(`wo.${w.type}`)} · ${w.content.split("\n")[0]}`;
      return li;
    }));
    this.renderPop();
  },

  renderPop() {
    const pop = this.call && this.call.pop;
    this.$("pop-empty").hidden = !!pop;
    this.$("pop-fields").hidden = !pop;
    const orders = this.$("pop-orders");
    if (!pop) { orders.replaceChildren(); return; }
    const ctx = pop.context || {};
    const set = (id, text) => { this.$(id).textContent = text; };
    const none = Hotline.t("none");
    set("pop-caller", pop.caller || none);
    set("pop-queue", `${pop.queue} / ${pop.skill}`);
    set("pop-path", (ctx.ivr_path || []).join(" → ") || none);
    set("pop-intent", this.intentText(ctx.intent) + (ctx.confidence ? ` · ${Math.round(ctx.confidence * 100)}%` : ""));
    set("pop-transcript", ctx.transcript || none);
    set("pop-order", ctx.order_number || none);
    set("pop-language", ctx.language ? Hotline.t(`lang.${ctx.language}`) : none);
    set("pop-priority", Hotline.t(ctx.priority ? "yes" : "no"));
    set("pop-wait", Hotline.t("pop.seconds", { s: Math.round(ctx.wait_seconds || 0) }));
    set("pop-overflow", ctx.overflow_from || none);
    set("pop-recent", Hotline.t("pop.times", { n: ctx.calls_last_7_days ?? 0 }));
    this.$("pop-priority").className = ctx.priority ? "bad" : "";
    orders.replaceChildren(...(ctx.work_orders || []).map((w) => {
      const li = document.createElement("li");
      li.textContent = `${w.number} · ${Hotline.t(`wo.${w.type}`)} · ${w.status} · ${w.created_at.slice(0, 10)}`;
      return li;
    }));
  },
};

document.addEventListener("DOMContentLoaded", () => { Desk.run(); });
