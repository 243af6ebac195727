// The conversation list on the left: rows and tab counts follow the live events. A changed row is
// fetched again as the server renders it (so its excerpt, unread count and permissions are right),
// and removed when it no longer belongs in the tab.

const TYPING_CLEARS_AFTER_MS = 6000;

export class ConversationList {
  constructor({ socket, list, tabs, strings, notifier }) {
    this.socket = socket;
    this.list = list;
    this.tabs = tabs;
    this.strings = strings;
    this.notifier = notifier;
    this.typingTimers = new Map();
    this.drawn = new WeakMap(); // each row this list inserted -> the server's HTML of it
    this.countsTimer = null;
    socket.addEventListener("frame", (event) => this.onFrame(event.detail));
    socket.addEventListener("reconnected", () => this.reload());
  }

  get tab() {
    return this.list?.dataset.tab || "all";
  }

  onFrame(frame) {
    if (frame.type === "agent.welcome") {
      this.showCounts(frame.counts);
    } else if (frame.conversation && (frame.type.startsWith("conversation.") || frame.type.startsWith("message."))) {
      this.refreshRow(frame.conversation.id);
      this.refreshCounts();
      if (frame.type === "conversation.created") this.notifier?.newConversation(this.strings.newConversation, frame.conversation.id);
    } else if (frame.type === "typing" && frame.author === "visitor") {
      this.showTyping(frame.conversation_id, frame.typing);
    } else if (frame.type.startsWith("visitor.") && frame.visitor) {
      for (const row of this.list?.querySelectorAll(`[data-visitor-id="${frame.visitor.id}"]`) || []) {
        this.refreshRow(row.dataset.conversationId);
      }
    }
  }

  // Refreshes of one row run one after another, so two events in a row never insert it twice.
  refreshRow(id) {
    const conversationId = String(id);
    this.rowQueues ??= new Map();
    const previous = this.rowQueues.get(conversationId) || Promise.resolve();
    const next = previous.then(() => this.fetchRow(conversationId)).catch(() => {});
    this.rowQueues.set(conversationId, next);
    return next;
  }

  async fetchRow(conversationId) {
    if (!this.list) return;
    const response = await fetch(`/conversations/${conversationId}/row/?tab=${encodeURIComponent(this.tab)}`, {
      headers: { "HX-Request": "true" },
    });
    const html = response.ok ? (await response.text()).trim() : "";
    const existing = document.getElementById(`row-${conversationId}`);
    if (response.status === 204) {
      existing?.remove();
      return;
    }
    if (!response.ok) return;
    // A row the server draws as it is now stays: replacing it would drop a click, the keyboard focus or
    // a hover on it for nothing (a visitor's phone number, say, changes no row).
    if (existing && this.drawn.get(existing) === html) return;
    const template = document.createElement("template");
    template.innerHTML = html;
    const row = template.content.firstElementChild;
    if (!row) return;
    this.drawn.set(row, html);
    if (existing) {
      existing.replaceWith(row);
    } else if (this.tab === "resolved" && window.location.search.includes("=")) {
      return; // a search shows only what matched it
    } else {
      this.list.querySelector(".empty")?.remove();
      this.list.prepend(row);
    }
    // Latest activity first: a row with news moves to the top.
    if (existing && this.tab !== "resolved") this.list.prepend(row);
    if (document.getElementById("conversation")?.dataset.conversationId === String(conversationId)) {
      row.classList.add("current");
    }
    window.htmx?.process(row);
  }

  refreshCounts() {
    clearTimeout(this.countsTimer);
    this.countsTimer = setTimeout(async () => {
      const response = await fetch(`/inbox/tabs/?tab=${encodeURIComponent(this.tab)}`);
      if (response.ok && this.tabs) this.tabs.innerHTML = await response.text();
    }, 150);
  }

  showCounts(counts) {
    for (const [name, count] of Object.entries(counts || {})) {
      const badge = this.tabs?.querySelector(`[data-count="${name}"]`);
      if (badge) badge.textContent = count;
    }
  }

  showTyping(conversationId, typing) {
    const state = document.querySelector(`#row-${conversationId} [data-visitor-state]`);
    if (!state) return;
    clearTimeout(this.typingTimers.get(conversationId));
    if (typing) {
      state.dataset.previous ??= state.textContent;
      state.textContent = this.strings.typing;
      state.classList.add("state-typing");
      this.typingTimers.set(conversationId, setTimeout(() => this.showTyping(conversationId, false), TYPING_CLEARS_AFTER_MS));
    } else if (state.dataset.previous !== undefined) {
      state.textContent = state.dataset.previous;
      delete state.dataset.previous;
      state.classList.remove("state-typing");
    }
  }

  // After a lost connection: the list as it is now, and the counts.
  async reload() {
    if (!this.list) return;
    const url =
      this.tab === "resolved"
        ? `/resolved/${window.location.search ? `${window.location.search}&` : "?"}rows=1`
        : `/inbox/?tab=${encodeURIComponent(this.tab)}`;
    const response = await fetch(url, { headers: { "HX-Request": "true" } });
    if (response.ok) {
      this.list.innerHTML = await response.text();
      window.htmx?.process(this.list);
    }
    this.refreshCounts();
  }
}
