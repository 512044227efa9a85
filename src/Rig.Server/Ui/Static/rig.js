// Rig web UI: the only script. No inline scripts anywhere (the Content-Security-Policy forbids them), no build step.
// 1. Live parts: an element with data-live="/ui/live/..." opens a Server-Sent Events stream. Events name an element
//    by id: "replace" swaps it for HTML the server rendered (and encoded), "append" adds text (never markup) to it,
//    "end" closes the stream. EventSource reconnects by itself after a network blip.
// 2. Forms with data-confirm ask before posting.
(function () {
  "use strict";
  function live(el) {
    var url = el.getAttribute("data-live");
    if (!url || !window.EventSource) return;
    var source = new EventSource(url);
    el.setAttribute("data-live-state", "open");
    source.addEventListener("replace", function (e) {
      var d = JSON.parse(e.data), target = document.getElementById(d.id);
      if (!target) return;
      var t = document.createElement("template");
      t.innerHTML = d.html;
      target.replaceWith(t.content);
    });
    source.addEventListener("append", function (e) {
      var d = JSON.parse(e.data), target = document.getElementById(d.id);
      if (!target) return;
      var follow = target.scrollTop + target.clientHeight >= target.scrollHeight - 4;
      target.appendChild(document.createTextNode(d.text));
      if (follow) target.scrollTop = target.scrollHeight;
    });
    source.addEventListener("end", function (e) {
      source.close();
      el.setAttribute("data-live-state", "ended");
      var d = JSON.parse(e.data);
      if (d.why === "signed-out") window.location.assign("/ui/sign-in?next=" + encodeURIComponent(window.location.pathname));
    });
    source.onerror = function () { el.setAttribute("data-live-state", "reconnecting"); };
    source.onopen = function () { el.setAttribute("data-live-state", "open"); };
  }
  // One listener for the whole document, so forms a live stream puts in later ask too.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f instanceof HTMLFormElement && f.hasAttribute("data-confirm") && !window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(live);
  });
})();
