// LINE simulator: keep the chat scrolled to the end, and reload the page when the bot
// delivers something new (polls a small counter; the page works without this script).
(function () {
  var chat = document.getElementById("chat");
  if (chat) { chat.scrollTop = chat.scrollHeight; }
  var phone = document.getElementById("phone");
  if (!phone) { return; }
  var url = phone.getAttribute("data-count-url");
  var seen = phone.getAttribute("data-count");
  setInterval(function () {
    var active = document.activeElement;
    if (active && active.tagName === "INPUT" && active.value) { return; }
    fetch(url, { cache: "no-store" }).then(function (r) { return r.text(); }).then(function (t) {
      if (t !== seen) { location.reload(); }
    }).catch(function () {});
  }, 1500);
})();
