// The chat box, inside the iframe the loader puts on the website. It speaks the visitor protocol of
// docs/realtime-protocol.md over /ws/visitor/ and talks to the website's page only through
// postMessage, answering nothing but the origin of the page that first initialised it.

const TEXTS = {
  en: {
    open: "Open chat", close: "Close chat", title: "Chat with us", online: "We usually reply in a few minutes.",
    offline: "We are away right now.", placeholder: "Write a message…", send: "Send",
    typing: "{name} is typing…", someone: "Our agent", resolved: "This conversation was resolved. Write again any time.",
    rateQuestion: "How was this conversation?", comment: "Comment (optional)", rate: "Send rating",
    rated: "Thank you for your feedback!", star: "{n} out of 5",
    offlineIntro: "No one is online right now. Leave a message and we will answer you by email.",
    email: "Email (required)", name: "Name", message: "Message", offlineSend: "Send message",
    offlineSent: "Thank you! We got your message and will answer you by email.",
    reconnecting: "Connection lost; reconnecting…", refused: "The chat is not available on this website.",
    failed: "Not sent.", error: "Something went wrong; please try again.", newMessages: "{n} new",
    chatLog: "Messages",
  },
  hu: {
    open: "Csevegés megnyitása", close: "Csevegés bezárása", title: "Írjon nekünk", online: "Általában néhány percen belül válaszolunk.",
    offline: "Most nem vagyunk elérhetők.", placeholder: "Írja be az üzenetét…", send: "Küldés",
    typing: "{name} éppen ír…", someone: "Munkatársunk", resolved: "A beszélgetést lezártuk. Bármikor írhat újra.",
    rateQuestion: "Milyen volt a beszélgetés?", comment: "Megjegyzés (nem kötelező)", rate: "Értékelés küldése",
    rated: "Köszönjük a visszajelzést!", star: "{n} az 5-ből",
    offlineIntro: "Most senki sem elérhető. Hagyjon üzenetet, és e-mailben válaszolunk.",
    email: "E-mail (kötelező)", name: "Név", message: "Üzenet", offlineSend: "Üzenet küldése",
    offlineSent: "Köszönjük! Megkaptuk az üzenetét, és e-mailben válaszolunk.",
    reconnecting: "Megszakadt a kapcsolat; újracsatlakozás…", refused: "A csevegés ezen a weboldalon nem érhető el.",
    failed: "Nem sikerült elküldeni.", error: "Valami hiba történt; kérjük, próbálja újra.", newMessages: "{n} új",
    chatLog: "Üzenetek",
  },
};

const allowedOrigins = new Set(
  [location.origin, ...JSON.parse(document.getElementById("helpdesk-origins").textContent)].map((url) => {
    try { return new URL(url).origin; } catch { return ""; }
  }),
);
const standalone = window.parent === window;
const accountName = document.body.dataset.account || "";

let lang = "en";
let parentOrigin = null;
let token = null;
let group = null;
let page = null; // the page view to report with the next hello
let ws = null;
let connected = false;
let attempts = 0;
let pinger = null;
let lastId = 0;
let conversation = null;
let canRate = false;
let agentsOnline = true;
let offlineSent = false;
let rated = false;
let isOpen = false;
let unread = 0;
let typingSentAt = 0;
let agentTypingTimer = null;
const calls = []; // API calls waiting for the connection
const outbox = new Map(); // client_id -> body, sent but not acknowledged
const byId = new Map();
const byClientId = new Map();

// --- DOM -------------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else if (value !== false && value != null) el.setAttribute(key, value);
  }
  el.append(...children);
  return el;
}

function t(key, values = {}) {
  const text = (TEXTS[lang] || TEXTS.en)[key] || TEXTS.en[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
}

const ui = {};
const stars = [1, 2, 3, 4, 5].map((n) =>
  h("label", { class: "star" }, h("input", { type: "radio", name: "rating", value: n, required: true }),
    h("span", { "aria-hidden": "true" }, "★"), h("span", { class: "sr", "data-t": "star", "data-n": n })),
);

function build() {
  ui.avatar = h("span", { class: "avatar", "aria-hidden": "true" });
  ui.title = h("strong", { class: "title" });
  ui.subtitle = h("span", { class: "subtitle" });
  ui.close = h("button", { type: "button", class: "close", "data-t-label": "close", onclick: () => setOpen(false) }, "×");
  ui.notice = h("p", { class: "notice", role: "alert", hidden: true });
  ui.log = h("ol", { class: "log", role: "log", "aria-live": "polite", "data-t-label": "chatLog", tabindex: "0" });
  ui.typing = h("p", { class: "typing", "aria-live": "polite" });
  ui.resolved = h("p", { class: "resolved", "data-t": "resolved", hidden: true });
  ui.comment = h("textarea", { name: "comment", rows: "2", maxlength: "2000" });
  ui.rate = h("form", { class: "rate", hidden: true, onsubmit: rate },
    h("fieldset", {}, h("legend", { "data-t": "rateQuestion" }), h("div", { class: "stars" }, ...stars)),
    h("label", {}, h("span", { "data-t": "comment" }), ui.comment),
    h("button", { type: "submit", "data-t": "rate" }));
  ui.rated = h("p", { class: "thanks", "data-t": "rated", hidden: true });
  ui.offline = h("form", { class: "offline", hidden: true, onsubmit: sendOffline },
    h("p", { "data-t": "offlineIntro" }),
    h("label", {}, h("span", { "data-t": "email" }), h("input", { type: "email", name: "email", required: true, autocomplete: "email" })),
    h("label", {}, h("span", { "data-t": "name" }), h("input", { name: "name", autocomplete: "name", maxlength: "200" })),
    h("label", {}, h("span", { "data-t": "message" }), h("textarea", { name: "message", rows: "3", required: true })),
    h("button", { type: "submit", "data-t": "offlineSend" }));
  ui.offlineSent = h("p", { class: "thanks", "data-t": "offlineSent", hidden: true });
  ui.input = h("textarea", {
    rows: "1", "data-t-placeholder": "placeholder", "data-t-label": "placeholder", maxlength: "10000",
    onkeydown: (e) => { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); } },
    oninput: typed, onblur: stopTyping,
  });
  ui.composer = h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); submit(); } },
    ui.input, h("button", { type: "submit", class: "send", "data-t-label": "send" }, "➤"));
  ui.panel = h("section", { class: "panel", role: "dialog", "aria-labelledby": "hd-title", hidden: true },
    h("header", {}, ui.avatar, h("div", { id: "hd-title" }, ui.title, ui.subtitle), ui.close),
    ui.notice, ui.log, ui.typing, ui.resolved, ui.rate, ui.rated, ui.offline, ui.offlineSent, ui.composer);
  ui.badge = h("span", { class: "badge", hidden: true });
  ui.launcher = h("button", { type: "button", class: "launcher", "data-t-label": "open", "aria-expanded": "false",
    onclick: () => setOpen(true) }, h("span", { class: "icon", "aria-hidden": "true" }), ui.badge);
  document.getElementById("app").append(ui.panel, ui.launcher);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && isOpen) setOpen(false); });
}

function translate() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t, { n: el.dataset.n });
  for (const el of document.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", t(el.dataset.tLabel));
  for (const el of document.querySelectorAll("[data-t-placeholder]")) el.placeholder = t(el.dataset.tPlaceholder);
  render();
}

function render() {
  const agent = conversation && conversation.assignee;
  ui.title.textContent = agent ? agent.public_name : accountName || t("title");
  ui.subtitle.textContent = agentsOnline ? t("online") : t("offline");
  const initial = (agent ? agent.public_name : accountName || "?").trim().charAt(0).toUpperCase();
  const avatar = (agent && agent.avatar_url) || initial;
  if (ui.avatar.dataset.shows !== avatar) {
    ui.avatar.dataset.shows = avatar;
    ui.avatar.replaceChildren(avatar === initial ? initial
      : h("img", { src: avatar, alt: "", onerror: (e) => e.target.replaceWith(initial) }));
  }
  const open = conversation && conversation.status === "open";
  const resolved = conversation && conversation.status === "resolved";
  const offline = !agentsOnline && !open && !offlineSent;
  ui.offline.hidden = !offline;
  ui.composer.hidden = offline;
  ui.offlineSent.hidden = !offlineSent || agentsOnline;
  ui.resolved.hidden = !resolved;
  ui.rate.hidden = !(resolved && canRate);
  ui.rated.hidden = !(resolved && rated && !canRate);
  ui.panel.hidden = !isOpen;
  ui.launcher.hidden = isOpen;
  ui.launcher.setAttribute("aria-expanded", String(isOpen));
  ui.badge.hidden = !unread;
  ui.badge.textContent = unread ? String(unread) : "";
}

function notice(text) {
  ui.notice.textContent = text || "";
  ui.notice.hidden = !text;
}

function scrollDown() {
  ui.log.scrollTop = ui.log.scrollHeight;
}

function time(iso) {
  const date = iso ? new Date(iso) : new Date();
  return h("time", { datetime: date.toISOString() }, date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }));
}

function addMessage(message) {
  if (byId.has(message.id)) return false;
  let el = message.client_id && byClientId.get(message.client_id);
  if (el) {
    el.classList.remove("pending", "failed");
  } else {
    el = h("li", { class: `msg ${message.author}` });
    if (message.author === "agent" && message.agent) el.append(h("span", { class: "who" }, message.agent.public_name));
    el.append(h("p", {}, message.body), time(message.created_at));
    if (message.client_id) byClientId.set(message.client_id, el);
    const later = [...ui.log.children].find((other) => other.dataset.id && Number(other.dataset.id) > message.id);
    ui.log.insertBefore(el, later || ui.log.querySelector(".pending") || null);
  }
  el.dataset.id = message.id;
  byId.set(message.id, el);
  lastId = Math.max(lastId, message.id);
  scrollDown();
  return true;
}

function clearMessages() {
  ui.log.replaceChildren();
  byId.clear();
  byClientId.clear();
  lastId = 0;
}

// --- talking to the website's page -----------------------------------------------------------

function tell(message) {
  if (standalone) {
    if (message.type === "token") try { localStorage.setItem("helpdesk:visitor", message.token); } catch { /* none */ }
    return;
  }
  if (parentOrigin) window.parent.postMessage({ ...message, helpdesk: 1 }, parentOrigin);
}

function setOpen(open) {
  isOpen = open;
  if (open) unread = 0;
  tell({ type: "state", state: open ? "open" : "closed" });
  render();
  if (open) {
    scrollDown();
    (ui.offline.hidden ? ui.input : ui.offline.querySelector("input")).focus();
  } else {
    ui.launcher.focus();
  }
}

function setLanguage(code) {
  const short = String(code || "").toLowerCase().split(/[-_]/)[0];
  lang = TEXTS[short] ? short : "en";
  translate();
}

function api([name, value]) {
  switch (name) {
    case "name": case "email": case "phone": return whenConnected({ type: "visitor.update", [name]: value });
    case "variables": return whenConnected({ type: "visitor.variables", variables: value });
    case "identify": return whenConnected({ type: "visitor.identify", ...(value || {}) });
    case "group": group = value; if (connected) send({ type: "visitor.group", group: value }); return;
    case "chat:open": return setOpen(true);
    case "chat:close": return setOpen(false);
    case "chat:send": return sendMessage(String(value ?? ""));
    case "language": return setLanguage(value);
    default: console.warn("helpdesk: unknown call", name);
  }
}

function init(data) {
  token = typeof data.token === "string" ? data.token : null;
  page = data.page && data.page.url ? data.page : null;
  setLanguage(data.lang);
  if (data.open) setOpen(true);
  connect();
}

window.addEventListener("message", (event) => {
  if (standalone || event.source !== window.parent) return;
  const data = event.data;
  if (!data || data.helpdesk !== 1) return;
  if (parentOrigin === null) {
    // The first message decides who the page is; the server's frame-ancestors policy already keeps
    // other websites from showing the frame, this checks again for browsers that ignore it.
    if (data.type !== "init" || !allowedOrigins.has(event.origin)) return;
    parentOrigin = event.origin;
    tell({ type: "ready" });
    init(data);
    return;
  }
  if (event.origin !== parentOrigin) return;
  if (data.type === "call" && Array.isArray(data.args)) api(data.args);
  else if (data.type === "page" && data.page) {
    if (connected) send({ type: "page.view", ...data.page });
    else page = data.page;
  } else if (data.type === "layout") {
    document.body.classList.toggle("full", !!data.full);
  } else if (data.type === "recording" && data.data instanceof ArrayBuffer) {
    upload(data);
  }
});

// --- recordings of the visit -----------------------------------------------------------------
// The recorder runs on the website's page (the loader adds it when the welcome says the account records
// visits); its compressed batches come here and go to the helpdesk from this, its own, origin.

let recordingStopped = false;
let recordingPause = 0;

function startRecording() {
  if (standalone || recordingStopped) return;
  const urls = JSON.parse(document.getElementById("helpdesk-recorder").textContent);
  tell({ type: "recording", recorder: new URL(urls.recorder, location.href).href, rrweb: new URL(urls.rrweb, location.href).href });
}

function stopRecording(why) {
  recordingStopped = true;
  console.warn("helpdesk: recording stopped:", why);
  tell({ type: "recording", stop: true });
}

async function upload({ session, sequence, data }, attempt = 0) {
  if (recordingStopped || !token) return;
  const wait = recordingPause - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const query = new URLSearchParams({ session: String(session), sequence: String(sequence) });
  let response;
  try {
    // keepalive lets the last batch of a page outlive it (browsers allow it for small bodies only).
    response = await fetch(`/widget/recording/?${query}`, {
      method: "POST", body: data, headers: { "X-Visitor-Token": token, "Content-Type": "application/octet-stream" },
      keepalive: data.byteLength < 60000, credentials: "omit",
    });
  } catch {
    response = null; // offline for a moment: try again like after a 429
  }
  if (response && response.ok) return;
  if (response && ![429, 502, 503, 504].includes(response.status)) {
    let error = {};
    try { error = await response.json(); } catch { /* not JSON */ }
    // The visit this session belonged to is over (the visitor left and came back): start a new one.
    if (response.status === 409 && error.field === "session") return tell({ type: "recording", renew: session });
    return stopRecording(error.message || `HTTP ${response.status}`);
  }
  if (attempt >= 5) return stopRecording("the helpdesk keeps refusing batches");
  recordingPause = Date.now() + 2000 * 2 ** attempt;
  return upload({ session, sequence, data }, attempt + 1);
}

// --- the websocket ---------------------------------------------------------------------------

function send(frame) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(frame));
  return true;
}

function whenConnected(frame) {
  if (!connected || !send(frame)) calls.push(frame);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(`${scheme}//${location.host}/ws/visitor/`);
  ws.onopen = () => {
    const hello = { type: "visitor.hello", token, page };
    if (lastId) hello.last_message_id = lastId;
    if (group != null) hello.group = group;
    send(hello);
  };
  ws.onmessage = (event) => {
    try { receive(JSON.parse(event.data)); } catch (error) { console.error("helpdesk:", error); }
  };
  ws.onclose = (event) => {
    const wasConnected = connected;
    connected = false;
    clearInterval(pinger);
    if (event.code === 4003) return notice(t("refused"));
    if (wasConnected) notice(t("reconnecting"));
    const delay = Math.min(30000, 1000 * 2 ** attempts++) * (0.5 + Math.random() / 2);
    setTimeout(connect, delay);
  };
}

function welcome(frame) {
  if (token && frame.token !== token) clearMessages(); // identified as another visitor
  token = frame.token;
  tell({ type: "token", token });
  page = null;
  connected = true;
  attempts = 0;
  notice("");
  conversation = frame.conversation;
  canRate = !!(conversation && conversation.can_rate);
  rated = !!(conversation && conversation.rating && !canRate);
  agentsOnline = frame.agents_online;
  for (const message of frame.messages || []) addMessage(message);
  if (frame.recording) startRecording();
  clearInterval(pinger);
  pinger = setInterval(() => send({ type: "ping" }), 20000);
  for (const call of calls.splice(0)) send(call);
  for (const [clientId, body] of outbox) send({ type: "message.send", client_id: clientId, body });
  render();
}

function receive(frame) {
  switch (frame.type) {
    case "visitor.welcome": return welcome(frame);
    case "pong": agentsOnline = frame.agents_online; return render();
    case "message.ack": {
      const body = outbox.get(frame.client_id);
      outbox.delete(frame.client_id);
      if (body !== undefined) tell({ type: "event", name: "message_sent", data: { id: frame.id, body } });
      const el = byClientId.get(frame.client_id);
      if (el && !byId.has(frame.id)) { el.classList.remove("pending"); el.dataset.id = frame.id; byId.set(frame.id, el); }
      return;
    }
    case "message.created": {
      const message = frame.message;
      if (frame.conversation) conversation = { ...conversation, ...frame.conversation };
      if (addMessage(message) && message.author === "agent") {
        showAgentTyping(false);
        if (!isOpen) unread++;
        tell({ type: "event", name: "message_received", data: { id: message.id, body: message.body, agent: message.agent && message.agent.public_name } });
      }
      return render();
    }
    case "typing": return showAgentTyping(frame.typing, frame.agent && frame.agent.public_name);
    case "conversation.resolved": canRate = true; rated = false; return updateConversation(frame);
    case "conversation.reopened": canRate = false; return updateConversation(frame);
    case "conversation.rated": canRate = false; rated = true; return updateConversation(frame);
    case "conversation.joined": case "conversation.assigned": case "conversation.transferred":
      return updateConversation(frame);
    case "rating.ack": canRate = false; rated = true; return render();
    case "offline.ack": offlineSent = true; ui.offline.reset(); return render();
    case "error": return failed(frame);
    default: return undefined;
  }
}

function updateConversation(frame) {
  if (frame.conversation) conversation = { ...conversation, ...frame.conversation };
  showAgentTyping(false);
  render();
}

function failed(frame) {
  if (frame.ref === "page.view") return console.warn("helpdesk: page view not recorded:", frame.message);
  if (frame.ref && outbox.has(frame.ref)) {
    outbox.delete(frame.ref);
    const el = byClientId.get(frame.ref);
    if (el) { el.classList.replace("pending", "failed"); el.title = t("failed"); }
  }
  notice(frame.message || t("error"));
}

function showAgentTyping(typing, name) {
  clearTimeout(agentTypingTimer);
  ui.typing.textContent = typing ? t("typing", { name: name || t("someone") }) : "";
  // The protocol refreshes typing every few seconds; without a refresh it is over.
  if (typing) agentTypingTimer = setTimeout(() => showAgentTyping(false), 6000);
}

// --- what the visitor does -------------------------------------------------------------------

function clientId() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

function sendMessage(body) {
  body = body.trim();
  if (!body) return;
  const id = clientId();
  const el = h("li", { class: "msg visitor pending" }, h("p", {}, body), time());
  byClientId.set(id, el);
  ui.log.append(el);
  scrollDown();
  outbox.set(id, body);
  notice("");
  if (connected) send({ type: "message.send", client_id: id, body });
}

function submit() {
  const body = ui.input.value;
  if (!body.trim()) return;
  ui.input.value = "";
  stopTyping();
  sendMessage(body);
}

function typed() {
  if (!connected || !ui.input.value) return;
  if (Date.now() - typingSentAt > 3000) {
    typingSentAt = Date.now();
    send({ type: "typing.update", typing: true });
  }
}

function stopTyping() {
  if (typingSentAt) {
    typingSentAt = 0;
    send({ type: "typing.update", typing: false });
  }
}

function rate(event) {
  event.preventDefault();
  const form = new FormData(ui.rate);
  send({ type: "conversation.rate", rating: Number(form.get("rating")), comment: form.get("comment") || "" });
}

function sendOffline(event) {
  event.preventDefault();
  const form = new FormData(ui.offline);
  const frame = { type: "offline.message", client_id: clientId(), email: form.get("email"), message: form.get("message") };
  if (form.get("name")) frame.name = form.get("name");
  whenConnected(frame);
}

build();
if (standalone) {
  let saved = null;
  try { saved = localStorage.getItem("helpdesk:visitor"); } catch { /* none */ }
  init({ token: saved, lang: navigator.language, open: true, page: null });
}
