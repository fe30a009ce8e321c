// The LINE message composer's enhancements (crates/web/src/composer.rs). The
// composer works without this file: every button posts the form and the page
// comes back with the new state. With it:
// - the composer's buttons swap only the composer (the server renders it for
//   a request carrying "X-Hiroba-Fragment: composer"), so the page keeps its place;
// - the preview follows the typing (the form is posted to data-preview-url);
// - LINE emoji go in at the cursor;
// - choosing a file uploads it at once;
// - imagemap areas are drawn by dragging on the image, filling the area rows.
(function () {
  "use strict";

  var BASE_WIDTH = 1040;
  var MIN_SIZE = 8;
  var previewTimer = null;
  var previewSeq = 0;

  function composer() {
    return document.getElementById("composer");
  }

  function formOf(el) {
    return el ? el.closest("form") : null;
  }

  // ---- live preview ---------------------------------------------------------------------

  function schedulePreview() {
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(refreshPreview, 350);
  }

  function refreshPreview() {
    var root = composer();
    var form = formOf(root);
    var url = root && root.getAttribute("data-preview-url");
    if (!form || !url) {
      return;
    }
    var data = new FormData(form);
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      data.delete(input.name);
    });
    var seq = ++previewSeq;
    fetch(url, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (res) {
        return res.ok ? res.text() : Promise.reject(res.status);
      })
      .then(function (html) {
        var body = composer() && composer().querySelector(".composer-preview-body");
        if (body && seq === previewSeq) {
          // Server-rendered by hiroba_line::preview: every value escaped, no scripts.
          body.innerHTML = html;
        }
      })
      .catch(function () {
        // The preview refreshes with the next change or button; nothing else to do.
      });
  }

  // ---- swapping the composer ------------------------------------------------------------

  var bypass = false;

  function swap(form, button) {
    var data = new FormData(form);
    data.append(button.name, button.value);
    var root = composer();
    root.setAttribute("aria-busy", "true");
    return fetch(form.getAttribute("action"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Hiroba-Fragment": "composer" },
    })
      .then(function (res) {
        return res.ok ? res.text() : Promise.reject(res.status);
      })
      .then(function (html) {
        var t = document.createElement("template");
        t.innerHTML = html;
        var fresh = t.content.querySelector("#composer");
        if (!fresh) {
          return Promise.reject("no composer");
        }
        composer().replaceWith(fresh);
        init(fresh);
        refocus(fresh, button);
      });
  }

  // After a swap, focus what the person was working on.
  function refocus(root, button) {
    var value = button.value;
    var same = root.querySelector('button[name="action"][value="' + CSS.escape(value) + '"]');
    var target = null;
    if (value.indexOf("add:") === 0) {
      var blocks = root.querySelectorAll("fieldset.composer-block");
      var last = blocks[blocks.length - 1];
      target = last && last.querySelector("textarea, input[type=text], input[type=file]");
    } else if (value.indexOf("emoji:") === 0 || value.indexOf("template:") === 0) {
      target = root.querySelector("#f-m" + value.split(":")[1] + (value.indexOf("emoji:") === 0 ? "_text" : "_flex"));
    } else if (same && !same.disabled) {
      target = same;
    }
    var summary = root.querySelector(".error-summary");
    if (summary && (value === "check" || !target)) {
      target = summary;
    }
    if (target) {
      target.focus();
    }
  }

  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var form = event.target;
    if (bypass || event.defaultPrevented || !button || button.name !== "action") {
      return;
    }
    if (!composer() || formOf(composer()) !== form || button.hasAttribute("formaction")) {
      return;
    }
    event.preventDefault();
    swap(form, button).catch(function () {
      // Fall back to the ordinary post of the whole page.
      bypass = true;
      form.requestSubmit(button);
      bypass = false;
    });
  });

  // ---- emoji, files, typing --------------------------------------------------------------

  function insertAtCursor(area, text) {
    var start = area.selectionStart;
    var end = area.selectionEnd;
    if (typeof start !== "number") {
      start = end = area.value.length;
    }
    area.value = area.value.slice(0, start) + text + area.value.slice(end);
    var at = start + text.length;
    area.focus();
    area.setSelectionRange(at, at);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.emoji-btn");
    if (!button) {
      return;
    }
    var area = document.getElementById(button.getAttribute("data-target"));
    if (!area) {
      return;
    }
    event.preventDefault();
    insertAtCursor(area, "[絵文字" + button.getAttribute("data-emoji") + "]");
    schedulePreview();
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("composer-file") || !input.files.length) {
      return;
    }
    var button = input.parentNode.querySelector("button.composer-upload");
    if (button) {
      button.click();
    }
  });

  document.addEventListener("input", function (event) {
    if (composer() && composer().contains(event.target)) {
      schedulePreview();
    }
  });

  // ---- imagemap areas ----------------------------------------------------------------------

  var SVG = "http://www.w3.org/2000/svg";

  function svgEl(name, attrs) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) {
      el.setAttribute(k, String(attrs[k]));
    });
    return el;
  }

  function clamp(v, lo, hi) {
    return Math.max(lo, Math.min(hi, v));
  }

  function rowValues(row) {
    var n = function (cls) {
      var input = row.querySelector("input." + cls);
      var v = input ? input.value.trim() : "";
      return /^[0-9]+$/.test(v) ? parseInt(v, 10) : null;
    };
    return { x: n("im-x"), y: n("im-y"), w: n("im-w"), h: n("im-h") };
  }

  function isBlank(row) {
    return Array.prototype.every.call(row.querySelectorAll("input[type=text]"), function (i) {
      return i.value.trim() === "";
    });
  }

  function setupImagemap(editor) {
    var block = editor.closest("fieldset.composer-block");
    var svg = editor.querySelector("svg.im-overlay");
    var list = block.querySelector("ol.im-row-list");
    var template = block.querySelector("template.im-row-template");
    var baseHeight = parseInt(editor.getAttribute("data-base-h"), 10);
    if (!svg || !list || !template || !(baseHeight > 0)) {
      return;
    }
    var start = null;
    var ghost = null;

    function redraw() {
      svg.querySelectorAll(".im-area, .im-num").forEach(function (el) {
        el.remove();
      });
      list.querySelectorAll("li.im-row").forEach(function (row, k) {
        var r = rowValues(row);
        if (r.x === null || r.y === null || !r.w || !r.h) {
          return;
        }
        svg.appendChild(svgEl("rect", { class: "im-area", x: r.x, y: r.y, width: r.w, height: r.h }));
        var label = svgEl("text", { class: "im-num", x: r.x + 14, y: r.y + 50 });
        label.textContent = String(k + 1);
        svg.appendChild(label);
      });
    }

    function point(event) {
      var box = svg.getBoundingClientRect();
      return {
        x: Math.round(clamp(((event.clientX - box.left) * BASE_WIDTH) / box.width, 0, BASE_WIDTH)),
        y: Math.round(clamp(((event.clientY - box.top) * baseHeight) / box.height, 0, baseHeight)),
      };
    }

    function boxOf(a, b) {
      return {
        x: Math.min(a.x, b.x),
        y: Math.min(a.y, b.y),
        w: Math.abs(a.x - b.x),
        h: Math.abs(a.y - b.y),
      };
    }

    function freeRow() {
      var rows = list.querySelectorAll("li.im-row");
      for (var k = 0; k < rows.length; k++) {
        if (isBlank(rows[k])) {
          return rows[k];
        }
      }
      if (rows.length >= 200) {
        return null;
      }
      // A new row from the template: the next index, its number for people.
      var used = {};
      rows.forEach(function (row) {
        var m = /_a([0-9]+)$/.exec(row.getAttribute("data-row") || "");
        if (m) {
          used[m[1]] = true;
        }
      });
      var j = 0;
      while (used[j]) {
        j++;
      }
      var html = template.innerHTML.split("__J__").join(String(j)).split("__N__").join(String(rows.length + 1));
      var t = document.createElement("template");
      t.innerHTML = html.trim();
      var row = t.content.firstElementChild;
      list.appendChild(row);
      return row;
    }

    function fill(box) {
      var row = freeRow();
      if (!row) {
        return;
      }
      var set = function (cls, v) {
        var input = row.querySelector("input." + cls);
        input.value = String(v);
        input.dispatchEvent(new Event("input", { bubbles: true }));
      };
      set("im-x", box.x);
      set("im-y", box.y);
      set("im-w", box.w);
      set("im-h", box.h);
      redraw();
      var target = row.querySelector("input.im-target");
      if (target) {
        target.focus();
      }
    }

    function move(event) {
      if (!start) {
        return;
      }
      var b = boxOf(start, point(event));
      ghost.setAttribute("x", b.x);
      ghost.setAttribute("y", b.y);
      ghost.setAttribute("width", b.w);
      ghost.setAttribute("height", b.h);
    }

    function up(event) {
      if (!start) {
        return;
      }
      var b = boxOf(start, point(event));
      start = null;
      ghost.remove();
      ghost = null;
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      if (b.w >= MIN_SIZE && b.h >= MIN_SIZE) {
        fill(b);
      }
    }

    svg.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) {
        return;
      }
      event.preventDefault();
      start = point(event);
      ghost = svgEl("rect", { class: "im-ghost", x: start.x, y: start.y, width: 0, height: 0 });
      svg.appendChild(ghost);
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", up);
    });

    list.addEventListener("input", redraw);
    redraw();
  }

  function init(root) {
    if (!root) {
      return;
    }
    root.querySelectorAll(".im-editor").forEach(setupImagemap);
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(composer());
  });
})();
