// mailbeacon campaign page: while a campaign is being sent, poll its report JSON and move the progress.
// Only numbers and a status word come back into the page, through textContent and the progress value;
// when the status changes (queued, paused, done) the page reloads to draw the chart and tables anew.
"use strict";

(function () {
  var EVERY_MS = 3000;
  var FIELDS = ["total", "queued", "sent", "bounced", "pending", "skipped"];

  function poll(section) {
    var url = section.getAttribute("data-poll");
    var shown = section.getAttribute("data-status");
    var bar = document.getElementById("progress-bar");
    var failures = 0;

    function update(report) {
      if (report.status !== shown) {
        window.location.reload();
        return false;
      }
      var progress = report.progress;
      if (bar && typeof progress.done === "number") bar.value = progress.done;
      FIELDS.forEach(function (name) {
        var el = section.querySelector('[data-field="' + name + '"]');
        if (el && typeof progress[name] === "number") el.textContent = String(progress[name]);
      });
      return true;
    }

    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (report) {
          failures = 0;
          if (update(report)) window.setTimeout(tick, EVERY_MS);
        })
        .catch(function () {
          failures += 1;  // a restarting server: try again, more slowly, for a while
          if (failures < 20) window.setTimeout(tick, EVERY_MS * Math.min(failures + 1, 10));
        });
    }

    window.setTimeout(tick, EVERY_MS);
  }

  // Cancelling cannot be undone (the copies not sent are withdrawn): ask first. The text is the page's own.
  function confirmFirst(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm") || "Are you sure?")) event.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.getElementById("campaign-progress");
    if (section && section.getAttribute("data-poll")) poll(section);
    var cancel = document.getElementById("cancel-form");
    if (cancel) confirmFirst(cancel);
  });
})();
