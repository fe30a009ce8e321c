// LIFF start page: obtains the LINE ID token from the LIFF SDK and exchanges it
// at /liff/session for a short server-side session, then opens the form.
// The server identifies the friend only from the verified ID token.
(function () {
  "use strict";
  var el = document.getElementById("liff-start");
  if (!el) { return; }
  var status = document.getElementById("liff-status");
  function fail(text) {
    status.textContent = text;
    status.className = "field-error";
  }
  var again = "LINEで本人を確認できませんでした。LINEのトーク画面からもう一度開いてください。";
  if (!window.liff) { fail(again); return; }
  window.liff.init({ liffId: el.getAttribute("data-liff-id") }).then(function () {
    if (!window.liff.isLoggedIn()) {
      window.liff.login({ redirectUri: location.href });
      return null;
    }
    var token = window.liff.getIDToken();
    if (!token) { fail(again); return null; }
    var body = "id_token=" + encodeURIComponent(token) +
      "&_csrf=" + encodeURIComponent(el.getAttribute("data-csrf"));
    return fetch("/liff/session", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: body
    }).then(function (r) {
      if (r.ok) { location.replace(el.getAttribute("data-next")); return null; }
      return r.text().then(function (t) { fail(t && t.length < 200 ? t : again); });
    });
  }).catch(function () { fail(again); });
})();
