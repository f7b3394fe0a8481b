// Shared by every page: zh/en texts, the login form, API calls and WebSockets with the
// session cookie (the pages never hold a raw API token).
"use strict";

class ApiFailure extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

const Hotline = {
  lang: localStorage.getItem("hotline.lang") || "zh",
  texts: {
    zh: {
      "login.title": "登录", "login.user": "工号 / 用户名", "login.password": "密码",
      "login.submit": "登录", "login.failed": "工号或密码错误", "login.role": "此账号无权使用本页面",
      "logout": "退出登录", "lang.switch": "English", "error.network": "网络错误，请重试",
      "index.title": "铁路客服热线", "index.pages": "页面", "page.docs": "接口文档",
      "page.desk": "坐席工作台", "page.wall": "现场监控", "page.reports": "统计分析",
      "page.qa": "质量管理",
    },
    en: {
      "login.title": "Log in", "login.user": "Agent no. / user name", "login.password": "Password",
      "login.submit": "Log in", "login.failed": "Wrong user name or password",
      "login.role": "This account may not use this page", "logout": "Log out",
      "lang.switch": "中文", "error.network": "Network error, please retry",
      "index.title": "Railway hotline", "index.pages": "Pages", "page.docs": "API docs",
      "page.desk": "Agent desk", "page.wall": "Wallboard", "page.reports": "Reports",
      "page.qa": "Quality",
    },
  },

  addTexts(more) {
    for (const lang of Object.keys(more)) Object.assign(this.texts[lang] ||= {}, more[lang]);
  },

  t(key, vars) {
    let text = (this.texts[this.lang] || {})[key] ?? this.texts.zh[key] ?? key;
    for (const [name, value] of Object.entries(vars || {})) text = text.replace(`{${name}}`, value);
    return text;
  },

  applyTexts(root) {
    const scope = root || document;
    scope.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = this.t(el.dataset.i18n); });
    scope.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.placeholder = this.t(el.dataset.i18nPlaceholder);
    });
    document.documentElement.lang = this.lang === "zh" ? "zh-CN" : "en";
  },

  setLang(lang) {
    this.lang = lang;
    localStorage.setItem("hotline.lang", lang);
    this.applyTexts();
    document.dispatchEvent(new CustomEvent("hotline:lang", { detail: lang }));
  },

  // A button with data-lang-switch toggles zh/en.
  bindLangSwitch() {
    document.querySelectorAll("[data-lang-switch]").forEach((btn) => {
      btn.addEventListener("click", () => this.setLang(this.lang === "zh" ? "en" : "zh"));
    });
  },

  async api(path, opts) {
    const options = opts || {};
    const init = { method: options.method || "GET", credentials: "same-origin", headers: {} };
    if (options.json !== undefined) {
      init.body = JSON.stringify(options.json);
      init.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiFailure(0, "network", this.t("error.network"), {});
    }
    if (response.status === 204) return null;
    const type = response.headers.get("content-type") || "";
    const body = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const error = (body && body.error) || {};
      throw new ApiFailure(response.status, error.code || "error", error.message || String(response.status),
                           error.details || {});
    }
    return body;
  },

  // A WebSocket to the app (the cookie goes along); reconnects with back-off until closed.
  socket(path, onMessage, onState) {
    let ws = null;
    let closed = false;
    let delay = 500;
    const open = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      ws = new WebSocket(`${scheme}://${location.host}${path}`);
      ws.onopen = () => { delay = 500; if (onState) onState("open"); };
      ws.onmessage = (event) => onMessage(JSON.parse(event.data));
      ws.onclose = () => {
        if (onState) onState("closed");
        if (!closed) setTimeout(open, delay = Math.min(delay * 2, 8000));
      };
    };
    open();
    return { close() { closed = true; if (ws) ws.close(); } };
  },

  // Resolves with the session ({username, role, agent, agent_name}) once logged in with one of
  // `roles` (admin always admitted); shows the login form in #login until then.
  async login(roles) {
    const admitted = new Set([...(roles || []), "admin"]);
    const who = await this.api("/api/v1/session");
    if (who.username && (!roles || admitted.has(who.role))) return who;
    return new Promise((resolve) => this._loginForm(admitted, roles, resolve));
  },

  _loginForm(admitted, roles, resolve) {
    const box = document.getElementById("login");
    box.hidden = false;
    box.innerHTML = `
      <form class="login" autocomplete="on">
        <h2 data-i18n="login.title"></h2>
        <label><span data-i18n="login.user"></span><input name="username" autocomplete="username" required></label>
        <label><span data-i18n="login.password"></span><input name="password" type="password"
          autocomplete="current-password" required></label>
        <button type="submit" data-i18n="login.submit"></button>
        <p class="error" role="alert" hidden></p>
      </form>`;
    this.applyTexts(box);
    const form = box.querySelector("form");
    const error = box.querySelector(".error");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      try {
        const who = await this.api("/api/v1/session", {
          method: "POST", json: { username: form.username.value.trim(), password: form.password.value },
        });
        if (roles && !admitted.has(who.role)) {
          await this.api("/api/v1/session", { method: "DELETE" });
          throw new ApiFailure(403, "forbidden", this.t("login.role"), {});
        }
        box.hidden = true;
        box.innerHTML = "";
        resolve(who);
      } catch (err) {
        error.textContent = err.status === 401 ? this.t("login.failed") : err.message;
        error.hidden = false;
      }
    });
  },

  async logout() {
    try { await this.api("/api/v1/session", { method: "DELETE" }); } finally { location.reload(); }
  },
};

document.addEventListener("DOMContentLoaded", () => {
  Hotline.applyTexts();
  Hotline.bindLangSwitch();
  document.querySelectorAll("[data-logout]").forEach((btn) => btn.addEventListener("click", () => Hotline.logout()));
});
