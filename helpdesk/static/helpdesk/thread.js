// The open conversation in the centre: watches it over the socket, appends what happens as the server
// renders it, catches up after a reconnect (conversation.watch with the last message id), sends
// replies and the agent's typing, and shows the visitor typing.

const TYPING_REFRESH_MS = 3000;
const TYPING_STOP_AFTER_MS = 4000;
const TYPING_CLEARS_AFTER_MS = 6000;

function clientId() {
  return window.crypto?.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

function lastId(root, attribute) {
  let last = 0;
  for (const element of root.querySelectorAll(`[${attribute}]`)) last = Math.max(last, Number(element.getAttribute(attribute)));
  return last;
}

export class ConversationThread {
  constructor({ socket, centre, card, flash }) {
    this.socket = socket;
    this.centre = centre;
    this.card = card;
    this.flash = flash;
    this.watching = null;
    this.fetching = null;
    this.sending = new Map(); // client id -> text, until acknowledged, so a refused reply is not lost
    socket.addEventListener("connected", () => this.watch());
    socket.addEventListener("reconnected", () => this.watch());
    socket.addEventListener("frame", (event) => this.onFrame(event.detail));
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (event.detail.target === centre || event.detail.target.id === "centre") this.opened();
    });
    this.opened();
  }

  get element() {
    return document.getElementById("conversation");
  }

  get conversationId() {
    return this.element ? Number(this.element.dataset.conversationId) : null;
  }

  get thread() {
    return document.getElementById("thread");
  }

  opened() {
    for (const row of document.querySelectorAll(".row.current")) row.classList.remove("current");
    if (!this.element) return;
    document.getElementById(`row-${this.conversationId}`)?.classList.add("current");
    document.getElementById(`row-${this.conversationId}`)?.classList.remove("unread");
    document.querySelector(`#row-${this.conversationId} .unread-count`)?.remove();
    this.scrollToEnd();
    this.bindComposer();
    this.bindOlder();
    this.watch();
  }

  watch() {
    if (!this.socket.isOpen) return;
    if (this.watching && this.watching !== this.conversationId) {
      this.socket.send({ type: "conversation.unwatch", conversation_id: this.watching });
    }
    this.watching = this.conversationId;
    if (!this.watching) return;
    this.socket.send({
      type: "conversation.watch",
      conversation_id: this.watching,
      last_message_id: lastId(this.thread, "data-message-id") || null,
    });
  }

  onFrame(frame) {
    const id = this.conversationId;
    if (!id) return;
    if (frame.type === "message.ack") this.sending.delete(frame.client_id);
    if (frame.type === "conversation.sync" && frame.conversation.id === id) {
      this.catchUp(); // whatever came while we were away, rendered by the server
      this.refreshHeader();
    } else if (frame.type === "message.updated" && frame.conversation?.id === id) {
      this.refreshMessage(frame.message.id); // sent, delivered, read, or failed with the reason
    } else if (frame.conversation?.id === id && frame.type.startsWith("message.")) {
      this.catchUp();
    } else if (frame.conversation?.id === id && frame.type.startsWith("conversation.")) {
      this.catchUp();
      this.refreshHeader();
    } else if (frame.type === "typing" && frame.author === "visitor" && frame.conversation_id === id) {
      this.showVisitorTyping(frame.typing);
    } else if (frame.type === "visitor.updated" && frame.visitor?.id === Number(this.element.dataset.visitorId)) {
      this.refreshEmailOption();
      this.refreshCard();
      this.refreshHeader();
    } else if ((frame.type === "visitor.left" || frame.type === "visitor.arrived") && frame.visitor?.id === Number(this.element.dataset.visitorId)) {
      this.offerEmail(frame.type === "visitor.left");
      this.refreshCard();
    } else if (frame.type === "error") {
      this.showError(frame.message);
      this.restoreRefused(frame.ref);
    }
  }

  // One fetch at a time; a second request while one runs is folded into a follow-up.
  async catchUp() {
    if (this.fetching) {
      this.again = true;
      return this.fetching;
    }
    this.fetching = this.fetchNew();
    try {
      await this.fetching;
    } finally {
      this.fetching = null;
    }
    if (this.again) {
      this.again = false;
      await this.catchUp();
    }
  }

  async fetchNew() {
    const id = this.conversationId;
    const thread = this.thread;
    if (!id || !thread) return;
    const after = lastId(thread, "data-message-id");
    const afterEvent = lastId(thread, "data-event-id");
    const response = await fetch(`/conversations/${id}/thread/?after=${after}&after_event=${afterEvent}`);
    if (!response.ok || this.conversationId !== id) return;
    const template = document.createElement("template");
    template.innerHTML = await response.text();
    const nearEnd = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
    let newest = 0;
    for (const item of [...template.content.children]) {
      if (document.getElementById(item.id)) continue;
      thread.append(item);
      if (item.dataset.messageId) newest = Math.max(newest, Number(item.dataset.messageId));
    }
    if (nearEnd) this.scrollToEnd();
    if (newest && document.visibilityState === "visible") this.markRead(id, newest);
  }

  markRead(id, messageId) {
    const body = new FormData();
    body.append("message_id", messageId);
    fetch(`/conversations/${id}/read/`, { method: "POST", body, headers: { "X-CSRFToken": this.csrf() } });
  }

  csrf() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
    } catch {
      return "";
    }
  }

  // A message whose delivery changed: the server renders it again, in place. One not shown yet may be on
  // its way in a fetch that read it before the change, so it is rendered again once that fetch is in.
  async refreshMessage(messageId) {
    const id = this.conversationId;
    if (!document.getElementById(`message-${messageId}`)) {
      await this.catchUp();
      if (!document.getElementById(`message-${messageId}`)) return; // the follow-up fetch reads it as changed
    }
    const response = await fetch(`/conversations/${id}/messages/${messageId}/`);
    if (!response.ok || this.conversationId !== id) return;
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const fresh = template.content.firstElementChild;
    if (fresh) document.getElementById(`message-${messageId}`)?.replaceWith(fresh);
  }

  // "Send as email" is offered while the visitor is away from the website (and their address known).
  offerEmail(visitorLeft) {
    const option = document.getElementById("as-email");
    if (!option) return;
    option.hidden = !visitorLeft;
    if (!visitorLeft) {
      option.querySelector("input").checked = false;
      this.showGoesByEmail(false);
    }
  }

  // The visitor's address changed: "Send as email" may appear, go, or name another address.
  async refreshEmailOption() {
    const id = this.conversationId;
    const option = document.getElementById("email-option");
    if (!option) return;
    const response = await fetch(`/conversations/${id}/email-option/`);
    if (!response.ok || this.conversationId !== id) return;
    const checked = option.querySelector("[name=as_email]")?.checked;
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const fresh = template.content.firstElementChild;
    if (!fresh) return;
    document.getElementById("email-option")?.replaceWith(fresh);
    const box = fresh.querySelector("[name=as_email]");
    if (box) box.checked = Boolean(checked) && !box.closest("label").hidden;
    this.showGoesByEmail(Boolean(box?.checked));
  }

  showGoesByEmail(byEmail) {
    const note = document.getElementById("goes-by-email");
    if (note) note.hidden = !byEmail;
  }

  async refreshHeader() {
    const header = document.getElementById("conversation-header");
    if (!header || header.contains(document.activeElement)) return;
    const response = await fetch(`/conversations/${this.conversationId}/header/`);
    if (response.ok) {
      header.innerHTML = await response.text();
      window.htmx?.process(header);
    }
  }

  async refreshCard() {
    const card = this.card;
    if (!card || !this.element || card.contains(document.activeElement)) return;
    const response = await fetch(`/conversations/${this.conversationId}/card/`);
    if (response.ok) {
      card.innerHTML = await response.text();
      window.htmx?.process(card);
    }
  }

  showVisitorTyping(typing) {
    const indicator = document.getElementById("typing");
    if (!indicator) return;
    clearTimeout(this.typingTimer);
    indicator.hidden = !typing;
    if (typing) this.typingTimer = setTimeout(() => (indicator.hidden = true), TYPING_CLEARS_AFTER_MS);
  }

  // A reply the server refused (no email known, a closed Messenger window) comes back to the composer.
  restoreRefused(clientId) {
    const body = this.sending.get(clientId);
    if (body === undefined) return;
    this.sending.delete(clientId);
    const textarea = document.querySelector("#composer textarea");
    if (textarea && !textarea.value.trim()) textarea.value = body;
  }

  showError(message) {
    if (!this.flash) return;
    this.flash.textContent = message;
    clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => (this.flash.textContent = ""), 8000);
  }

  scrollToEnd() {
    const thread = this.thread;
    if (thread) thread.scrollTop = thread.scrollHeight;
  }

  // Older messages load when the top of the thread scrolls into view; keep the reader where they were.
  bindOlder() {
    const thread = this.thread;
    if (!thread || thread.dataset.bound) return;
    thread.dataset.bound = "1";
    let before = 0;
    thread.addEventListener("htmx:beforeSwap", () => (before = thread.scrollHeight));
    thread.addEventListener("htmx:afterSwap", () => (thread.scrollTop += thread.scrollHeight - before));
  }

  bindComposer() {
    const form = document.getElementById("composer");
    if (!form || form.dataset.bound) return;
    form.dataset.bound = "1";
    const textarea = form.querySelector("textarea");
    let lastTyping = 0;
    let stopTimer = null;
    const typing = (state) => {
      this.socket.send({ type: "typing.update", conversation_id: this.conversationId, typing: state });
    };
    textarea.addEventListener("input", () => {
      const now = Date.now();
      if (now - lastTyping > TYPING_REFRESH_MS) {
        lastTyping = now;
        typing(true);
      }
      clearTimeout(stopTimer);
      stopTimer = setTimeout(() => {
        lastTyping = 0;
        typing(false);
      }, TYPING_STOP_AFTER_MS);
    });
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("change", (event) => {
      if (event.target.name === "as_email") this.showGoesByEmail(event.target.checked);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = textarea.value.trim();
      if (!body) return;
      const frame = { type: "message.send", conversation_id: this.conversationId, client_id: clientId(), body };
      this.sending.set(frame.client_id, body);
      if (form.querySelector("[name=as_email]")?.checked) frame.channel = "email";
      this.socket.send(frame);
      textarea.value = "";
      clearTimeout(stopTimer);
      lastTyping = 0;
      typing(false);
    });
  }
}
