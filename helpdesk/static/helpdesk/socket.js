// The dashboard's websocket (/ws/agent/, see docs/realtime-protocol.md): reconnects by itself with
// backoff, says so on the page while it does, keeps the agent online with pings, and tells the other
// modules when it is back so they can catch up on what they missed.

const PING_EVERY_MS = 20000;
const MAX_DELAY_MS = 30000;

export class DashboardSocket extends EventTarget {
  constructor(url, { indicator } = {}) {
    super();
    this.url = url;
    this.indicator = indicator;
    this.attempt = 0;
    this.opened = false;
    this.queue = [];
    this.seen = new Set();
    this.connect();
  }

  connect() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      const reconnected = this.opened;
      this.opened = true;
      this.attempt = 0;
      this.showReconnecting(false);
      this.pinger = setInterval(() => this.send({ type: "ping" }), PING_EVERY_MS);
      for (const frame of this.queue.splice(0)) ws.send(JSON.stringify(frame));
      this.dispatchEvent(new CustomEvent(reconnected ? "reconnected" : "connected"));
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (this.isDuplicate(frame)) return;
      this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
      this.dispatchEvent(new CustomEvent(frame.type, { detail: frame }));
    });
    ws.addEventListener("close", (event) => {
      clearInterval(this.pinger);
      if (event.code === 4001) {
        // Signed out (or the session expired): the login page, then back here.
        window.location.href = `/login/?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
        return;
      }
      this.showReconnecting(true);
      const delay = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt += 1;
      setTimeout(() => this.connect(), delay);
    });
  }

  // A limited agent may get an event twice (through a group and as the assignee).
  isDuplicate(frame) {
    let key = null;
    if (frame.type === "message.created") key = `m${frame.message.id}`;
    else if (frame.type.startsWith("conversation.") && frame.history?.id !== undefined) key = `h${frame.history.id}`;
    if (!key) return false;
    if (this.seen.has(key)) return true;
    this.seen.add(key);
    if (this.seen.size > 5000) this.seen = new Set([...this.seen].slice(-1000));
    return false;
  }

  get isOpen() {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  send(frame) {
    if (this.isOpen) {
      this.ws.send(JSON.stringify(frame));
    } else if (frame.type !== "ping" && frame.type !== "typing.update") {
      this.queue.push(frame); // sent once the connection is back; message ids make retries safe
    }
  }

  showReconnecting(reconnecting) {
    if (this.indicator) this.indicator.hidden = !reconnecting;
    document.body.classList.toggle("reconnecting", reconnecting);
  }
}
