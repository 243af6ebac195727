/* Helpdesk visit recorder: runs on the website's page, added by the loader only when the account records
   visits and neither the page nor the website opted out. It records the page with rrweb (every input
   masked, card numbers masked in any text, elements the website marks hidden or left out), gzips the
   events in batches and hands them to the chat box frame, which uploads them. Plain JavaScript, no build. */
(function (w, d) {
  "use strict";
  var hub = w.helpdesk && w.helpdesk.recorder;
  if (!hub || hub.started || !w.CompressionStream) return;
  hub.started = true;

  var BATCH_EVENTS = 200;
  var BATCH_MS = 5000;
  var events = [];
  var stopped = false;
  var stopRrweb = null;
  var timer = null;

  // --- card numbers: mirrors conversations/masking.py (prefix, length, Luhn), masking every digit ---
  var CARDS = [["4", "4", 13, 19], ["51", "55", 16, 16], ["2221", "2720", 16, 16], ["2200", "2204", 16, 19],
    ["34", "34", 15, 15], ["37", "37", 15, 15], ["300", "305", 14, 19], ["36", "36", 14, 19], ["38", "39", 14, 19],
    ["3528", "3589", 16, 19], ["6011", "6011", 16, 19], ["644", "649", 16, 19], ["65", "65", 16, 19],
    ["62", "62", 16, 19], ["50", "50", 13, 19], ["56", "69", 13, 19]];

  function luhn(digits) {
    var total = 0;
    for (var i = 0; i < digits.length; i++) {
      var value = +digits.charAt(digits.length - 1 - i);
      if (i % 2 === 1) { value *= 2; if (value > 9) value -= 9; }
      total += value;
    }
    return total % 10 === 0;
  }

  function isCard(digits) {
    for (var i = 0; i < CARDS.length; i++) {
      var c = CARDS[i], head = digits.slice(0, c[0].length);
      if (digits.length >= c[2] && digits.length <= c[3] && head >= c[0] && head <= c[1]) return luhn(digits);
    }
    return false;
  }

  // Every card number (whole digit groups joined by one consistent space or dash) loses all its digits.
  function maskCards(text) {
    if ((text.match(/\d/g) || []).length < 13) return text;
    var chars = text.split("");
    var run = /\d+(?:[ -]\d+)*/g, match;
    while ((match = run.exec(text))) {
      var groups = [], part = /\d+/g, g;
      while ((g = part.exec(match[0]))) groups.push({ start: match.index + g.index, digits: g[0] });
      for (var first = 0; first < groups.length; first++) {
        var digits = "", separator = null;
        for (var last = first; last < groups.length; last++) {
          if (last > first) {
            var between = text.charAt(groups[last].start - 1);
            if (separator !== null && between !== separator) break;
            separator = between;
          }
          digits += groups[last].digits;
          if (digits.length > 19) break;
          if (digits.length >= 13 && isCard(digits)) {
            for (var k = groups[first].start; k < groups[last].start + groups[last].digits.length; k++) {
              if (/\d/.test(chars[k])) chars[k] = "*";
            }
          }
        }
      }
    }
    return chars.join("");
  }

  function maskText(text, element) {
    if (element && element.closest && element.closest('[data-recording-ignore="mask"]')) return text.replace(/\S/g, "*");
    return maskCards(text);
  }

  // --- the session: one recording across the pages of the visit (this tab's sessionStorage) ---
  function uuid() {
    if (w.crypto.randomUUID) return w.crypto.randomUUID();
    var b = w.crypto.getRandomValues(new Uint8Array(16)), hex = "";
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) hex += (b[i] + 256).toString(16).slice(1) + ([3, 5, 7, 9].indexOf(i) >= 0 ? "-" : "");
    return hex;
  }

  function storage(key, value) {
    try {
      if (value === undefined) return JSON.parse(w.sessionStorage.getItem(key));
      if (value === null) w.sessionStorage.removeItem(key); else w.sessionStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage disabled: each page is its own recording */ }
    return null;
  }

  var state = storage(hub.key);
  if (!state || typeof state.session !== "string" || typeof state.next !== "number") state = { session: uuid(), next: 0 };
  // Events the previous page could not send before it went away (compression is asynchronous).
  var left = storage(hub.key + ":unsent");
  storage(hub.key + ":unsent", null);
  if (left && left.session === state.session && left.events instanceof Array) events = left.events;

  function flush() {
    if (stopped || !events.length) return;
    var batch = events;
    events = [];
    var stream = new Blob([JSON.stringify(batch)]).stream().pipeThrough(new w.CompressionStream("gzip"));
    new Response(stream).arrayBuffer().then(function (bytes) {
      if (stopped) return;
      var sequence = state.next++;
      storage(hub.key, state);
      hub.send(state.session, sequence, bytes);
    });
  }

  function keepUnsent() {
    if (!stopped && events.length) storage(hub.key + ":unsent", { session: state.session, events: events });
    events = [];
  }

  // The helpdesk finished this session's recording (the visitor had left): the page goes on in a new one.
  hub.renew = function (session) {
    if (stopped || session !== state.session) return;
    state = { session: uuid(), next: 0 };
    storage(hub.key, state);
    events = [];
    if (stopRrweb) w.rrwebRecord.record.takeFullSnapshot(true);
  };

  hub.stop = function () {
    stopped = true;
    events = [];
    clearInterval(timer);
    if (stopRrweb) stopRrweb();
  };

  function start() {
    if (stopped || !w.rrwebRecord) return;
    stopRrweb = w.rrwebRecord.record({
      emit: function (event) {
        events.push(event);
        if (events.length >= BATCH_EVENTS) flush();
      },
      maskAllInputs: true,
      maskInputOptions: { password: true },
      maskInputFn: function (text) { return text.replace(/[\s\S]/g, "*"); },
      // Every text goes through maskText: card numbers anywhere, whole texts inside mask-marked elements.
      maskTextSelector: "*",
      maskTextFn: maskText,
      blockSelector: '[data-recording-ignore="events"], iframe[data-helpdesk]',
      sampling: { mousemove: 100, scroll: 150 },
      slimDOMOptions: { script: true, comment: true, headFavicon: true, headMetaSocial: true, headMetaRobots: true,
        headMetaVerification: true }
    });
    setTimeout(flush, 1000); // the page's snapshot reaches the helpdesk soon after it loads
    timer = setInterval(flush, BATCH_MS);
    w.addEventListener("pagehide", keepUnsent);
    d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") flush(); });
  }

  var rrweb = d.createElement("script");
  rrweb.src = hub.rrweb;
  rrweb.onload = start;
  d.head.appendChild(rrweb);
})(window, document);
