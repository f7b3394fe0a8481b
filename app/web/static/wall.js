// The supervisor wallboard: tiles per center and queue, the agents grid, listen/whisper/barge.
// Everything comes from the wallboard WebSocket (a snapshot, then updates); a local one-second
// timer only counts the longest waits and times in state on.
"use strict";

Hotline.addTexts({
  zh: {
    "wall.title": "现场监控", "wall.centers": "中心", "wall.queues": "队列", "wall.agents": "坐席",
    "wall.online": "实时", "wall.offline": "连接中断",
    "wall.waiting": "排队", "wall.longest": "最长等待", "wall.offered": "呼入",
    "wall.answered": "接通", "wall.abandoned": "放弃", "wall.short": "短时放弃",
    "wall.answer_rate": "人工接通率", "wall.service_level": "服务水平",
    "wall.overflow": "溢出 入/出", "wall.callbacks": "回呼", "wall.agents_now": "坐席",
    "wall.my_phone": "我的电话", "wall.my_phone_hint": "工号或 PJSIP/agent-1009",
    "wall.agent_no": "工号", "wall.agent_name": "姓名", "wall.center": "中心", "wall.state": "状态",
    "wall.in_state": "状态时长", "wall.queue": "队列", "wall.monitor": "监控",
    "wall.listen": "监听", "wall.whisper": "耳语", "wall.barge": "强插",
    "wall.need_phone": "请先填写我的电话", "wall.ringing_you": "正在呼叫您的电话（{mode} {agent}）",
    "wall.monitored_by": "{mode}：{by}",
    "state.logged_out": "未登录", "state.ready": "就绪", "state.ringing": "振铃",
    "state.on_call": "通话中", "state.wrap_up": "话后处理", "state.paused": "暂停",
    "queue.general": "综合", "queue.assistance": "重点旅客", "queue.ticket": "购票查询",
    "queue.refund_change": "退票改签", "queue.train_status": "列车状态",
    "queue.lost_found": "失物招领", "queue.complaint": "投诉", "queue.english": "英语",
    "queue.expert": "专家",
  },
  en: {
    "wall.title": "Wallboard", "wall.centers": "Centers", "wall.queues": "Queues",
    "wall.agents": "Agents", "wall.online": "live", "wall.offline": "disconnected",
    "wall.waiting": "Waiting", "wall.longest": "Longest wait", "wall.offered": "Offered",
    "wall.answered": "Answered", "wall.abandoned": "Abandoned", "wall.short": "Short abandons",
    "wall.answer_rate": "Answer rate", "wall.service_level": "Service level",
    "wall.overflow": "Overflow in/out", "wall.callbacks": "Callbacks", "wall.agents_now": "Agents",
    "wall.my_phone": "My phone", "wall.my_phone_hint": "agent no. or PJSIP/agent-1009",
    "wall.agent_no": "No.", "wall.agent_name": "Name", "wall.center": "Center",
    "wall.state": "State", "wall.in_state": "Time in state", "wall.queue": "Queue",
    "wall.monitor": "Monitor", "wall.listen": "Listen", "wall.whisper": "Whisper",
    "wall.barge": "Barge", "wall.need_phone": "Fill in your phone first",
    "wall.ringing_you": "Ringing your phone ({mode} {agent})", "wall.monitored_by": "{mode}: {by}",
    "state.logged_out": "logged out", "state.ready": "ready", "state.ringing": "ringing",
    "state.on_call": "on call", "state.wrap_up": "wrap-up", "state.paused": "paused",
    "queue.general": "General", "queue.assistance": "Assistance", "queue.ticket": "Tickets",
    "queue.refund_change": "Refund/change", "queue.train_status": "Train status",
    "queue.lost_found": "Lost & found", "queue.complaint": "Complaints", "queue.english": "English",
    "queue.expert": "Experts",
  },
});

const Wall = {
  thresholds: null,
  tiles: { centers: new Map(), queues: new Map() },
  agents: new Map(),
  clockOffset: 0, // server time - browser time, seconds

  now() { return Date.now() / 1000 + this.clockOffset; },

  // The same rule as the server (app/wall/board.py level): more waiting is worse, lower rates.
  level(value, threshold, lowerIsWorse) {
    if (value === null || value === undefined || !threshold) return "ok";
    if (lowerIsWorse) return value < threshold.alert ? "alert" : value < threshold.warn ? "warn" : "ok";
    return value >= threshold.alert ? "alert" : value >= threshold.warn ? "warn" : "ok";
  },

  levels(tile) {
    const t = this.thresholds || {};
    return {
      waiting: this.level(tile.waiting, t.waiting, false),
      longest_wait: this.level(this.longest(tile), t.longest_wait, false),
      service_level: this.level(tile.service_level, t.service_level, true),
      answer_rate: this.level(tile.answer_rate, t.answer_rate, true),
    };
  },

  longest(tile) {
    return tile.oldest_entered_at ? Math.max(0, this.now() - tile.oldest_entered_at) : 0;
  },

  clock(seconds) {
    const s = Math.floor(seconds);
    const h = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  },

  pct(share) { return share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`; },

  take(message) {
    this.clockOffset = message.at - Date.now() / 1000;
    if (message.kind === "wall.snapshot") {
      this.thresholds = message.thresholds;
      this.tiles.centers.clear();
      this.tiles.queues.clear();
      this.agents.clear();
      document.getElementById("day").textContent = `${message.day} (${message.timezone})`;
    }
    for (const kind of ["centers", "queues"]) {
      for (const tile of message[kind] || []) this.tiles[kind].set(tile.key, tile);
    }
    for (const agent of message.agents || []) this.agents.set(agent.number, agent);
    this.render();
  },

  render() {
    for (const kind of ["centers", "queues"]) this.renderTiles(kind);
    this.renderAgents();
  },

  tileName(kind, key) {
    if (kind === "queues") {
      const label = Hotline.t(`queue.${key}`);
      return label === `queue.${key}` ? key : `${label} ${key}`;
    }
    return key;
  },

  renderTiles(kind) {
    const box = document.getElementById(kind);
    for (const [key, tile] of this.tiles[kind]) {
      let el = box.querySelector(`[data-tile="${kind}:${CSS.escape(key)}"]`);
      if (!el) {
        el = document.createElement("article");
        el.className = "tile";
        el.dataset.tile = `${kind}:${key}`;
        el.innerHTML = `<h3><span class="name"></span><span class="muted agents-now"></span></h3>
          <div><span class="big waiting"></span> <span class="muted" data-i18n="wall.waiting"></span></div>
          <dl>
            <dt data-i18n="wall.longest"></dt><dd class="longest"></dd>
            <dt data-i18n="wall.offered"></dt><dd class="offered"></dd>
            <dt data-i18n="wall.answered"></dt><dd class="answered"></dd>
            <dt data-i18n="wall.abandoned"></dt><dd class="abandoned"></dd>
            <dt data-i18n="wall.short"></dt><dd class="short"></dd>
            <dt data-i18n="wall.callbacks"></dt><dd class="callbacks"></dd>
            <dt data-i18n="wall.answer_rate"></dt><dd class="answer-rate"></dd>
            <dt data-i18n="wall.service_level"></dt><dd class="service-level"></dd>
            <dt data-i18n="wall.overflow"></dt><dd class="overflow"></dd>
          </dl>`;
        Hotline.applyTexts(el);
        box.appendChild(el);
      }
      const set = (cls, text) => { el.querySelector(`.${cls}`).textContent = text; };
      set("name", this.tileName(kind, key));
      set("waiting", String(tile.waiting));
      set("offered", String(tile.offered));
      set("answered", String(tile.answered));
      set("abandoned", String(tile.abandoned));
      set("short", String(tile.short_abandoned));
      set("callbacks", String(tile.callbacks));
      set("answer-rate", this.pct(tile.answer_rate));
      set("service-level", this.pct(tile.service_level));
      set("overflow", `${tile.overflow_in} / ${tile.overflow_out}`);
      const counts = tile.agents || {};
      const working = ["ready", "ringing", "on_call", "wrap_up"].reduce((n, s) => n + (counts[s] || 0), 0);
      set("agents-now", kind === "centers" ? `${Hotline.t("wall.agents_now")} ${working}/${working + (counts.paused || 0)}` : "");
      this.colour(el, tile);
    }
  },

  colour(el, tile) {
    const levels = this.levels(tile);
    el.querySelector(".longest").textContent = this.clock(this.longest(tile));
    const marks = { waiting: ".waiting", longest_wait: ".longest", service_level: ".service-level",
                    answer_rate: ".answer-rate" };
    for (const [name, selector] of Object.entries(marks)) {
      const node = el.querySelector(selector);
      node.classList.remove("warn", "alert");
      if (levels[name] !== "ok") node.classList.add(levels[name]);
    }
    const worst = Object.values(levels).includes("alert") ? "alert"
      : Object.values(levels).includes("warn") ? "warn" : "ok";
    el.classList.remove("warn", "alert");
    if (worst !== "ok") el.classList.add(worst);
    el.dataset.level = worst;
  },

  renderAgents() {
    const body = document.getElementById("agents");
    const rows = [...this.agents.values()].sort((a, b) => a.number.localeCompare(b.number));
    body.replaceChildren(...rows.map((agent) => this.agentRow(agent)));
  },

  agentRow(agent) {
    const tr = document.createElement("tr");
    tr.dataset.agent = agent.number;
    if (agent.monitored) tr.classList.add("monitored");
    const cell = (text, cls) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.appendChild(td);
      return td;
    };
    cell(agent.number);
    cell(agent.name);
    cell(agent.center);
    const state = Hotline.t(`state.${agent.state}`) + (agent.reason ? `（${agent.reason}）` : "");
    cell(state, `state state-${agent.state}`);
    cell(agent.since ? this.clock(this.now() - agent.since) : "—", "in-state").dataset.since = agent.since || "";
    cell(agent.queue ? this.tileName("queues", agent.queue) : "");
    const td = cell("", "monitor");
    if (agent.monitored) {
      const mark = document.createElement("span");
      mark.className = "monitored-by";
      mark.textContent = Hotline.t("wall.monitored_by",
        { mode: Hotline.t(`wall.${agent.monitored.mode}`), by: agent.monitored.by });
      td.appendChild(mark);
    }
    for (const mode of ["listen", "whisper", "barge"]) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.mode = mode;
      button.textContent = Hotline.t(`wall.${mode}`);
      button.disabled = agent.state !== "on_call";
      button.addEventListener("click", () => this.monitor(agent.number, mode));
      td.appendChild(button);
    }
    return tr;
  },

  async monitor(number, mode) {
    const status = document.getElementById("monitor-status");
    const phone = document.getElementById("my-phone").value.trim();
    if (!phone) {
      status.textContent = Hotline.t("wall.need_phone");
      return;
    }
    localStorage.setItem("hotline.wall.phone", phone);
    const body = /^[0-9]{4,6}$/.test(phone) ? { agent: phone } : { endpoint: phone };
    try {
      await Hotline.api(`/api/v1/agents/${encodeURIComponent(number)}/${mode}`, { method: "POST", json: body });
      status.textContent = Hotline.t("wall.ringing_you", { mode: Hotline.t(`wall.${mode}`), agent: number });
    } catch (err) {
      status.textContent = err.message;
    }
  },

  // Once a second: the longest waits and times in state count on; colours follow them.
  tick() {
    for (const kind of ["centers", "queues"]) {
      for (const [key, tile] of this.tiles[kind]) {
        const el = document.querySelector(`[data-tile="${kind}:${CSS.escape(key)}"]`);
        if (el) this.colour(el, tile);
      }
    }
    document.querySelectorAll("#agents td.in-state").forEach((td) => {
      if (td.dataset.since) td.textContent = this.clock(this.now() - Number(td.dataset.since));
    });
  },
};

document.addEventListener("DOMContentLoaded", async () => {
  const who = await Hotline.login(["supervisor"]);
  document.getElementById("who").textContent = who.username;
  document.querySelector("[data-logout]").hidden = false;
  document.getElementById("content").hidden = false;
  const phone = document.getElementById("my-phone");
  phone.value = localStorage.getItem("hotline.wall.phone") || who.agent || "";
  const link = document.getElementById("link");
  Hotline.socket("/api/v1/wall/ws", (message) => Wall.take(message), (state) => {
    link.dataset.state = state;
    link.dataset.i18n = state === "open" ? "wall.online" : "wall.offline";
    link.textContent = Hotline.t(link.dataset.i18n);
  });
  document.addEventListener("hotline:lang", () => {
    document.querySelectorAll(".tile").forEach((el) => el.remove());
    Wall.render();
  });
  setInterval(() => Wall.tick(), 1000);
});
