// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Ask before destructive actions (buttons carrying data-confirm).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = button && button.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
  // Move focus to the error summary so screen readers announce it first.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector(".error-summary[tabindex]");
    if (summary) {
      summary.focus();
    }
  });
  // Segments: redraw a condition row when its item or kind changes, and
  // count the matching friends as the form changes (the buttons do the same
  // without JavaScript).
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.hasAttribute && target.hasAttribute("data-refresh")) {
      var button = target.form && target.form.querySelector("[data-refresh-button]");
      if (button) {
        button.click();
      }
    }
  });
  var countTimer = null;
  function liveCount(form) {
    var url = form.getAttribute("data-live-count");
    var out = document.getElementById("segment-count");
    var about = document.getElementById("segment-description");
    var token = document.querySelector("meta[name=csrf-token]");
    if (!url || !out || !window.fetch) {
      return;
    }
    var body = new URLSearchParams(new FormData(form));
    out.textContent = "数えています…";
    fetch(url, {
      method: "POST",
      body: body,
      headers: { "x-csrf-token": token ? token.content : "" },
      credentials: "same-origin"
    })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (typeof data.count === "number") {
          out.textContent = data.count.toLocaleString("ja-JP") + "名";
          if (about) { about.textContent = data.description || ""; }
        } else {
          out.textContent = "—";
          if (about) { about.textContent = data.error || ""; }
        }
      })
      .catch(function () { out.textContent = "—"; });
  }
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-live-count")) {
      window.clearTimeout(countTimer);
      countTimer = window.setTimeout(function () { liveCount(form); }, 400);
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form[data-live-count]");
    if (form && form.querySelector("select[name=c0_attr]") && form.querySelector("select[name=c0_attr]").value) {
      liveCount(form);
    }
  });
})();
