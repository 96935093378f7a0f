// Module editor: live preview. After a pause in typing, the Markdown goes to the server's
// preview endpoint (the same renderer and sanitiser as a published module) and the sanitised
// HTML it returns replaces the preview. Without this script the "Pratinjau" button does the same.
(function () {
  "use strict";
  var form = document.getElementById("module-form");
  var preview = document.getElementById("preview");
  var body = document.getElementById("body");
  if (!form || !preview || !body) { return; }
  var url = form.getAttribute("data-preview-url");
  var token = form.querySelector('input[name="csrf_token"]').value;
  var status = document.getElementById("preview-status");
  var timer = null;
  var sent = 0;

  function show(text) { if (status) { status.textContent = text; } }

  function refresh() {
    var mine = ++sent;
    var data = new FormData();
    data.append("csrf_token", token);
    data.append("body", body.value);
    show("memperbarui…");
    fetch(url, { method: "POST", body: data, credentials: "same-origin",
                 headers: { "X-CSRFToken": token, "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (payload) {
        if (mine !== sent) { return; }  // an older answer arriving late
        preview.innerHTML = payload.html;  // sanitised on the server (nh3 allowlist)
        show("mutakhir");
      })
      .catch(function () { if (mine === sent) { show("pratinjau gagal; coba tombol Pratinjau"); } });
  }

  body.addEventListener("input", function () {
    window.clearTimeout(timer);
    show("menunggu…");
    timer = window.setTimeout(refresh, 600);
  });
  if (!preview.querySelector(".muted") || body.value) { refresh(); }
})();
