// Hiroba's LINE simulator: a small stand-in for the LIFF SDK (window.liff).
// In production the page loads LINE's SDK from https://static.line-scdn.net/liff/edge/2/sdk.js;
// this file offers the calls Hiroba's pages use, backed by the simulator that served it.
// The user arrives from the simulator's chat view with a one-time code in the URL fragment
// (#liff-sim-code=...); init() removes it and exchanges it for an ID token.
(function () {
  "use strict";
  var script = document.currentScript;
  var simOrigin = script && script.src ? new URL(script.src).origin : "";
  var KEY = "hiroba-liff-sim";
  var FRAGMENT = /(^#|&)liff-sim-code=([0-9a-f]+)/;
  var state = null; // { idToken, context, closePath, inClient }
  var resolveReady;
  var ready = new Promise(function (resolve) { resolveReady = resolve; });

  function liffError(code, message) {
    var e = new Error(message);
    e.code = code;
    return e;
  }
  function load() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (e) { return null; }
  }
  function save(s) {
    try {
      if (s) { sessionStorage.setItem(KEY, JSON.stringify(s)); } else { sessionStorage.removeItem(KEY); }
    } catch (e) { /* storage may be disabled; the session then lasts for this page only */ }
  }
  // Reads the one-time code and removes it from the address bar and history.
  function takeCode() {
    var m = FRAGMENT.exec(location.hash);
    if (!m) { return null; }
    var rest = location.hash.replace(FRAGMENT, "$1").replace(/^#&/, "#");
    if (rest === "#") { rest = ""; }
    history.replaceState(history.state, "", location.pathname + location.search + rest);
    return m[2];
  }
  function decode(token) {
    var part = String(token).split(".")[1] || "";
    part = part.replace(/-/g, "+").replace(/_/g, "/");
    while (part.length % 4) { part += "="; }
    var bin = atob(part);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return JSON.parse(new TextDecoder().decode(bytes));
  }
  function expired(s) {
    try { return decode(s.idToken).exp * 1000 <= Date.now(); } catch (e) { return true; }
  }

  function init(config) {
    if (!config || !config.liffId) {
      return Promise.reject(liffError("INVALID_CONFIG", "liffId is necessary for liff.init()"));
    }
    var code = takeCode();
    var step;
    if (code) {
      step = fetch(simOrigin + "/liff/token", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "code=" + encodeURIComponent(code) + "&liffId=" + encodeURIComponent(config.liffId),
        credentials: "omit"
      }).then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) { throw liffError("UNAUTHORIZED", j.error_description || "login failed"); }
          state = { idToken: j.idToken, context: j.context, closePath: j.closePath, inClient: true };
          save(state);
        });
      });
    } else {
      var saved = load();
      if (saved && saved.context && saved.context.liffId === config.liffId && !expired(saved)) {
        state = saved;
      } else {
        save(null);
      }
      step = Promise.resolve();
    }
    return step.then(function () { resolveReady(); });
  }

  window.liff = {
    id: null,
    ready: ready,
    init: function (config) {
      window.liff.id = config && config.liffId ? config.liffId : null;
      return init(config);
    },
    isLoggedIn: function () { return state !== null; },
    isInClient: function () { return state !== null && state.inClient === true; },
    getIDToken: function () { return state ? state.idToken : null; },
    getDecodedIDToken: function () { return state ? decode(state.idToken) : null; },
    getContext: function () { return state ? state.context : null; },
    getProfile: function () {
      if (!state) { return Promise.reject(liffError("UNAUTHORIZED", "need access_token for api call, Please login first")); }
      var t = decode(state.idToken);
      return Promise.resolve({ userId: t.sub, displayName: t.name, pictureUrl: t.picture });
    },
    getLanguage: function () { return navigator.language || "ja"; },
    getOS: function () { return "web"; },
    getVersion: function () { return "2 (Hiroba LINE simulator)"; },
    // Outside the chat view: the simulator's login page, back here with a code.
    login: function (options) {
      var back = (options && options.redirectUri) || location.href;
      location.href = simOrigin + "/liff/login?redirectUri=" + encodeURIComponent(back);
    },
    logout: function () { state = null; save(null); },
    closeWindow: function () {
      var back = state && state.closePath ? simOrigin + state.closePath : null;
      window.close();
      // A tab the script may not close goes back to the chat instead.
      if (back) { setTimeout(function () { location.href = back; }, 150); }
    }
  };
})();
