/* Helpdesk chat box loader: runs on the website's page, creates the chat box iframe and talks to it
   only through postMessage. Plain ES5-compatible JavaScript, no globals besides window.helpdesk. */
(function (w, d) {
  "use strict";
  if (w.helpdesk && w.helpdesk.loaded) return;

  var script = d.currentScript;
  if (!script) {
    var all = d.getElementsByTagName("script");
    for (var i = all.length - 1; i >= 0; i--) {
      if (/\/widget\/loader\.js(\?|$)/.test(all[i].src)) { script = all[i]; break; }
    }
  }
  if (!script) return;
  var base = script.src.replace(/\/widget\/loader\.js(\?.*)?$/, "");
  var origin = new URL(base).origin;
  var tokenKey = "helpdesk:" + origin + ":visitor";
  var openKey = "helpdesk:" + origin + ":open";

  // The visitor key lives in the website's own (first-party) storage, so it survives page loads,
  // tabs and days even where the browser partitions or blocks the helpdesk's storage in iframes.
  function store(kind, key, value) {
    try {
      var s = w[kind];
      if (value === undefined) return s.getItem(key);
      if (value === null) s.removeItem(key); else s.setItem(key, value);
    } catch (e) { /* storage disabled: the visitor is new on every page */ }
    return null;
  }

  var queued = (w.helpdesk && w.helpdesk.q) || [];
  var listeners = {};
  var pending = [];
  var ready = false;
  var state = "closed";
  var lastUrl = null;
  // Recording the visit: off when the page says so, or once the website calls recording:disable.
  var meta = d.querySelector('meta[name="helpdesk-recording"]');
  var recordingOff = !!(meta && meta.getAttribute("content") === "off");
  var recorder = null;

  var frame = d.createElement("iframe");
  frame.src = base + "/widget/frame/";
  frame.title = "Chat";
  frame.setAttribute("allow", "clipboard-write");
  frame.setAttribute("data-helpdesk", "");

  function style(props) {
    for (var k in props) frame.style.setProperty(k, props[k], "important");
  }

  function place() {
    var phone = w.innerWidth < 480;
    var open = state === "open";
    var full = open && phone;
    style({
      position: "fixed", border: "0", margin: "0", padding: "0", background: "transparent",
      "color-scheme": "normal", "z-index": "2147483000", "max-width": "100%", "max-height": "100%",
      display: "block", visibility: ready ? "visible" : "hidden",
      right: full ? "0" : "8px", bottom: full ? "0" : "8px",
      width: full ? "100%" : open ? "392px" : "84px",
      height: full ? "100%" : open ? "min(640px, calc(100% - 16px))" : "84px"
    });
    if (ready) post({ type: "layout", full: full });
  }

  function post(message) {
    message.helpdesk = 1;
    if (!ready && message.type !== "init") { pending.push(message); return; }
    if (frame.contentWindow) frame.contentWindow.postMessage(message, origin);
  }

  function page() {
    var url = w.location.href;
    var referrer = lastUrl === null ? d.referrer : lastUrl;
    lastUrl = url;
    // The helpdesk keeps addresses of up to 2000 characters (long tracking parameters get cut).
    return { url: url.slice(0, 2000), title: d.title.slice(0, 500), referrer: (referrer || "").slice(0, 2000) };
  }

  function pageChanged() {
    // Single-page sites: report a view when the address really changed (replaceState often does not).
    setTimeout(function () {
      if (w.location.href !== lastUrl) post({ type: "page", page: page() });
    }, 0);
  }

  function call(args) {
    args = Array.prototype.slice.call(args);
    if (args[0] === "recording:disable") return stopRecording();
    if (args[0] === "on") {
      if (typeof args[2] === "function") (listeners[args[1]] = listeners[args[1]] || []).push(args[2]);
      return;
    }
    post({ type: "call", args: args });
  }

  function stopRecording() {
    recordingOff = true;
    if (recorder && recorder.stop) recorder.stop();
  }

  // The frame says the account records visits: add the recorder (and rrweb) from the helpdesk's origin.
  function startRecording(data) {
    var ours = origin + "/";
    if (recordingOff || recorder || !w.CompressionStream || typeof data.recorder !== "string" ||
        data.recorder.indexOf(ours) !== 0 || data.rrweb.indexOf(ours) !== 0) return;
    recorder = {
      rrweb: data.rrweb,
      key: "helpdesk:" + origin + ":recording",
      send: function (session, sequence, bytes) {
        if (!recordingOff) post({ type: "recording", session: session, sequence: sequence, data: bytes });
      }
    };
    w.helpdesk.recorder = recorder;
    var tag = d.createElement("script");
    tag.src = data.recorder;
    tag.async = true;
    d.head.appendChild(tag);
  }

  w.helpdesk = function () { call(arguments); };
  w.helpdesk.loaded = true;

  w.addEventListener("message", function (event) {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (!data || data.helpdesk !== 1) return;
    if (data.type === "ready") {
      ready = true;
      place();
      var backlog = pending;
      pending = [];
      for (var i = 0; i < backlog.length; i++) post(backlog[i]);
    } else if (data.type === "token") {
      store("localStorage", tokenKey, data.token);
    } else if (data.type === "state") {
      state = data.state === "open" ? "open" : "closed";
      store("sessionStorage", openKey, state === "open" ? "1" : null);
      place();
    } else if (data.type === "recording") {
      if (data.stop) stopRecording();
      else if (data.renew) { if (recorder && recorder.renew) recorder.renew(data.renew); }
      else startRecording(data);
    } else if (data.type === "event") {
      var fns = listeners[data.name] || [];
      for (var j = 0; j < fns.length; j++) {
        try { fns[j](data.data); } catch (e) { setTimeout(function () { throw e; }); }
      }
    }
  });

  frame.addEventListener("load", function () {
    post({
      type: "init",
      token: store("localStorage", tokenKey),
      open: store("sessionStorage", openKey) === "1",
      lang: d.documentElement.lang || navigator.language || "en",
      page: page()
    });
  });

  var history = w.history;
  ["pushState", "replaceState"].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      pageChanged();
      return result;
    };
  });
  w.addEventListener("popstate", pageChanged);
  w.addEventListener("resize", place);

  for (var q = 0; q < queued.length; q++) call(queued[q]);

  place();
  function mount() { d.body.appendChild(frame); }
  if (d.body) mount(); else d.addEventListener("DOMContentLoaded", mount);
})(window, document);
