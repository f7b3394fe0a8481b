// The start page: log in, then the pages this platform serves.
"use strict";

document.addEventListener("DOMContentLoaded", async () => {
  const who = await Hotline.login(null);
  document.getElementById("who").textContent = who.agent_name ? `${who.agent_name} (${who.username})` : who.username;
  document.querySelector("[data-logout]").hidden = false;
  document.getElementById("content").hidden = false;
});
