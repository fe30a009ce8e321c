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
})();
