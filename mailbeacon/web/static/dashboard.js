// mailbeacon dashboard: local times, the live activity feed, toasts and browser notifications.
// Event data (recipients, subjects, URLs, User-Agents) is hostile: it only ever goes through
// textContent and setAttribute, never innerHTML (the CSP allows no inline script either).
"use strict";

(function () {
  var STREAM_URL = "/api/v1/stream";
  var TOAST_MS = 10000;
  var BADGES = { suspect_forward: "possibly forwarded" };

  // --- times: the server writes UTC; show the reader's local time with its zone ---------------
  var thisYear = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  var otherYear = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });

  function localise(el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) return;
    var format = when.getFullYear() === new Date().getFullYear() ? thisYear : otherYear;
    el.textContent = format.format(when);
    el.setAttribute("data-local", "1");
  }

  function localiseAll(root) {
    root.querySelectorAll("time[datetime]:not([data-local])").forEach(localise);
  }

  // --- wording, mirrored from mailbeacon/web/dashboard/formats.py -----------------------------
  function duration(seconds) {
    var units = [[86400, "d"], [3600, "h"], [60, "min"]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][0]) return Math.round(seconds / units[i][0]) + " " + units[i][1];
    }
    return Math.round(seconds) + " s";
  }

  function describe(d, cls) {
    if (d.notice === "forward" || cls === "suspect_forward") {
      return d.type === "open" ? "possibly forwarded" : "clicked (possibly forwarded)";
    }
    if (d.type === "click") return "clicked";
    if (d.notice === "open") return d.gap ? "opened again after " + duration(d.gap) : "opened again";
    return "opened";
  }

  function clientIcon(rules, label) {
    var text = (label || "").toLowerCase();
    for (var i = 0; i < rules.length; i++) {
      if (text.indexOf(rules[i][0]) !== -1) return rules[i][1];
    }
    return "unknown";
  }

  function asDate(value) {
    return typeof value === "number" ? new Date(value * 1000) : new Date(value);
  }

  // --- live feed ------------------------------------------------------------------------------
  function buildRow(template, rules, d) {
    var row = template.content.firstElementChild.cloneNode(true);
    var cls = d.cls !== undefined ? d.cls : d["class"];
    row.setAttribute("data-id", String(d.id));
    var when = row.querySelector(".when");
    var at = asDate(d.occurred_at);
    if (!isNaN(at.getTime())) {
      when.setAttribute("datetime", at.toISOString());
      when.setAttribute("title", at.toISOString());
      localise(when);
    }
    var badge = row.querySelector(".badge");
    badge.textContent = BADGES[cls] || cls || "pending";
    badge.className = "badge badge-" + String(cls || "pending").replace(/[^a-z_]/g, "");
    if (d.reasons && d.reasons.length) badge.setAttribute("title", d.reasons.join(", "));
    var recipient = row.querySelector(".recipient");
    if (d.recipient) {
      recipient.textContent = d.recipient;
      recipient.setAttribute("href", "/contacts/" + encodeURIComponent(d.recipient));
    } else {
      recipient.textContent = "someone unknown";
      recipient.removeAttribute("href");
    }
    row.querySelector(".action").textContent = describe(d, cls);
    var url = row.querySelector(".url");
    if (d.type === "click" && d.url) {
      url.textContent = d.url;
      if (/^https?:\/\//i.test(d.url)) url.setAttribute("href", d.url);  // never javascript: and the like
    } else {
      url.remove();
    }
    var subject = row.querySelector(".subject");
    if (d.message_id) {
      subject.textContent = d.subject || "(no subject)";
      subject.setAttribute("href", "/messages/" + encodeURIComponent(String(d.message_id)));
    } else {
      subject.remove();
    }
    var client = row.querySelector(".client");
    if (d.user_agent) client.setAttribute("title", d.user_agent);
    client.querySelector(".client-name").textContent = d.client || "unknown client";
    client.querySelector(".client-icon").setAttribute("src", "/static/icons/" + clientIcon(rules, d.client) + ".svg");
    return row;
  }

  function startLiveFeed(feed, template) {
    var rules = [];
    try { rules = JSON.parse(feed.getAttribute("data-client-icons") || "[]"); } catch (e) { rules = []; }
    var status = document.getElementById("live-status");
    var empty = document.getElementById("feed-empty");
    var delay = 2000;
    var source = null;

    function setStatus(state, text) {
      if (!status) return;
      status.setAttribute("data-state", state);
      status.textContent = text;
    }

    function newest() {
      var first = feed.querySelector(".feed-item[data-id]");
      return first ? Number(first.getAttribute("data-id")) || 0 : 0;
    }

    function receive(message) {
      var d;
      try { d = JSON.parse(message.data); } catch (e) { return; }
      if (!d || d.id === undefined || feed.querySelector('.feed-item[data-id="' + Number(d.id) + '"]')) return;
      var row = buildRow(template, rules, d);
      row.classList.add("fresh");
      feed.insertBefore(row, feed.firstChild);
      if (empty) empty.hidden = true;
      if (d.notify) notify(d);
    }

    function connect() {
      if (!window.EventSource) { setStatus("offline", "live updates need a newer browser"); return; }
      source = new EventSource(STREAM_URL + "?after=" + newest());
      source.addEventListener("activity", receive);
      source.addEventListener("missed", function () {
        toast("More happened than the live feed can show", "Reload the page to see all of it.", "", "");
      });
      source.onopen = function () { delay = 2000; setStatus("live", "live"); };
      source.onerror = function () {
        if (source.readyState === EventSource.CLOSED) {
          // Refused (no stream here, or logged out): try again later, slower each time.
          setStatus("offline", "live updates unavailable; retrying");
          source.close();
          window.setTimeout(connect, delay);
          delay = Math.min(delay * 2, 60000);
        } else {
          setStatus("connecting", "reconnecting…");
        }
      };
    }
    connect();
    window.addEventListener("beforeunload", function () { if (source) source.close(); });
  }

  // --- toasts and browser notifications -------------------------------------------------------
  function toast(title, body, meta, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var el = document.createElement("div");
    el.className = "toast" + (kind === "forward" ? " toast-forward" : "");
    el.setAttribute("role", "status");
    [["toast-title", title], ["toast-body", body], ["toast-meta", meta]].forEach(function (part) {
      if (!part[1]) return;
      var line = document.createElement("div");
      line.className = part[0];
      line.textContent = part[1];
      el.appendChild(line);
    });
    el.addEventListener("click", function () { el.remove(); });
    box.appendChild(el);
    window.setTimeout(function () {
      el.classList.add("leaving");
      window.setTimeout(function () { el.remove(); }, 500);
    }, TOAST_MS);
  }

  function notify(d) {
    var title = String(d.notify.title || "");
    var body = String(d.notify.body || "");
    var meta = [d.recipient, d.subject].filter(function (part) {
      return part && (title + " " + body).indexOf(part) === -1;  // only what the notice does not say already
    }).join(" · ");
    toast(title, body, meta, d.notice);
    if (window.Notification && Notification.permission === "granted") {
      try {
        var shown = new Notification(title, { body: body, tag: "mailbeacon-" + d.id });
        shown.onclick = function () { window.focus(); shown.close(); };
      } catch (e) { /* some browsers allow notifications only from a service worker */ }
    }
  }

  function offerNotifications() {
    var button = document.getElementById("enable-notifications");
    if (!button || !window.Notification || Notification.permission !== "default") return;
    button.hidden = false;
    button.addEventListener("click", function () {
      Promise.resolve(Notification.requestPermission()).then(function (answer) {
        button.hidden = true;
        toast(answer === "granted" ? "Browser notifications on" : "Browser notifications stay off",
              answer === "granted" ? "Opens and clicks will pop up on your desktop while this page is open." : "",
              "", "");
      });
    });
  }

  // --- phone width (issue #13): the menu behind a button, tables as labelled rows --------------
  function foldMenu() {
    var bar = document.querySelector(".topbar");
    var button = document.getElementById("nav-toggle");
    if (!bar || !button) return;
    function open(yes) {
      bar.classList.toggle("open", yes);
      button.setAttribute("aria-expanded", yes ? "true" : "false");
    }
    bar.classList.add("folds");  // only now may CSS hide the menu: without this script it stays in view
    button.hidden = false;
    button.addEventListener("click", function () { open(!bar.classList.contains("open")); });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && bar.classList.contains("open")) { open(false); button.focus(); }
    });
  }

  function labelCells() {
    // Each cell carries its column's heading, which the stylesheet shows beside it when rows stack.
    document.querySelectorAll("table.data").forEach(function (table) {
      var heads = table.querySelectorAll("thead tr:last-child th");
      if (!heads.length) return;
      var labels = Array.prototype.map.call(heads, function (th) {
        return th.textContent.replace(/[↑↓]/g, "").replace(/\s+/g, " ").trim();
      });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        if (row.querySelector("th")) return;  // a row with its own heading (a header's name) needs no labels
        Array.prototype.forEach.call(row.children, function (cell, i) {
          if (labels[i] && cell.tagName === "TD") cell.setAttribute("data-label", labels[i]);
        });
      });
      table.classList.add("stacks");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    foldMenu();
    labelCells();
    localiseAll(document);
    var feed = document.getElementById("feed");
    var template = document.getElementById("feed-item-template");
    if (feed && template) {
      startLiveFeed(feed, template);
      offerNotifications();
    }
  });
})();
