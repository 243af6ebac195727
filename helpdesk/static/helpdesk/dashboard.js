// The dashboard's entry point: one socket, the list on the left, the conversation in the centre.
import { ConversationList } from "./list.js";
import { Notifier } from "./notifications.js";
import { DashboardSocket } from "./socket.js";
import { ConversationThread } from "./thread.js";

const strings = JSON.parse(document.getElementById("dashboard-strings").textContent);
const flash = document.getElementById("flash");

if (window.htmx) {
  // Refusals come back as 4xx with the reason, retargeted to the message area: show them.
  window.htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "4..", swap: true, error: false },
    { code: "...", swap: false, error: true },
  ];
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target === flash) {
      clearTimeout(flash.timer);
      flash.timer = setTimeout(() => (flash.textContent = ""), 8000);
    }
  });
}

const scheme = window.location.protocol === "https:" ? "wss" : "ws";
const socket = new DashboardSocket(`${scheme}://${window.location.host}/ws/agent/`, {
  indicator: document.getElementById("connection"),
});
socket.addEventListener("pong", () => document.body.dispatchEvent(new CustomEvent("helpdesk:pong")));

const notifier = new Notifier(document.getElementById("enable-notifications"));
new ConversationList({
  socket,
  list: document.getElementById("conversation-list"),
  tabs: document.getElementById("tabs"),
  strings,
  notifier,
});
new ConversationThread({
  socket,
  centre: document.getElementById("centre"),
  card: document.getElementById("visitor-card"),
  flash,
});
window.helpdeskSocket = socket; // for the browser tests and the console
