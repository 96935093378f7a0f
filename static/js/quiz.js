// bimtek quiz: save each answer the moment it is chosen, survive reloads and dropped
// connections, count down to the server's deadline. The page works without this script
// (a normal form post saves and submits).
(function () {
  "use strict";

  var done = document.querySelector("[data-clear-attempt]");
  if (done) {
    try { window.localStorage.removeItem("bimtek-attempt-" + done.getAttribute("data-clear-attempt")); } catch (e) { /* private mode */ }
  }

  var form = document.getElementById("quiz-form");
  if (!form) { return; }
  var saveUrl = form.getAttribute("data-save-url");
  var token = form.querySelector('input[name="csrf_token"]').value;
  var storeKey = "bimtek-attempt-" + form.getAttribute("data-attempt");
  var statusBar = document.getElementById("save-status");
  var countEl = document.getElementById("answered-count");
  var pending = load();
  var sending = null;
  var retryDelay = 2000;
  var retryTimer = null;
  var submitting = false;
  var timer = document.getElementById("timer");
  var endsAt = null;  // the deadline on this phone's clock

  function load() {
    try { return JSON.parse(window.localStorage.getItem(storeKey)) || {}; } catch (e) { return {}; }
  }
  function persist() {
    try { window.localStorage.setItem(storeKey, JSON.stringify(pending)); } catch (e) { /* full or private */ }
  }
  function fieldset(position) {
    return form.querySelector('fieldset[data-position="' + position + '"]');
  }
  function inputs(fs) {
    return Array.prototype.slice.call(fs.querySelectorAll('input[name^="q"]'));
  }
  function selection(fs) {
    return inputs(fs).filter(function (i) { return i.checked; }).map(function (i) { return i.value; });
  }
  function setStatus(fs, text, state) {
    var el = fs && fs.querySelector("[data-status]");
    if (el) { el.textContent = text; el.setAttribute("data-state", state || ""); }
  }
  function updateBar() {
    var waiting = Object.keys(pending).length;
    if (statusBar) {
      statusBar.textContent = waiting ? waiting + " jawaban menunggu disimpan" : "Semua jawaban tersimpan";
      statusBar.setAttribute("data-state", waiting ? "pending" : "saved");
    }
    if (countEl) {
      countEl.textContent = Array.prototype.filter.call(
        form.querySelectorAll("fieldset[data-position]"),
        function (fs) { return selection(fs).length > 0; }
      ).length;
    }
  }
  function syncDeadline(secondsLeft) {
    if (typeof secondsLeft === "number" && isFinite(secondsLeft)) {
      endsAt = Date.now() + secondsLeft * 1000;
    }
  }
  function scheduleRetry() {
    if (retryTimer) { return; }
    retryTimer = window.setTimeout(function () { retryTimer = null; flush(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  // One request at a time, oldest choice first; a newer choice for the same question
  // replaces the older one in the queue.
  function flush() {
    if (sending !== null || submitting) { return; }
    var positions = Object.keys(pending);
    if (!positions.length) { updateBar(); return; }
    var position = positions[0];
    var selected = pending[position];
    var fs = fieldset(position);
    sending = position;
    setStatus(fs, "Menyimpan…", "saving");
    window.fetch(saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token },
      body: JSON.stringify({ position: Number(position), selected: selected })
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        // Signed out or the form expired: keep the choice; a reload after signing in resends it.
        throw new Error("Sesi berakhir. Muat ulang halaman; jawaban Anda disimpan di perangkat ini.");
      }
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    }).then(function (result) {
      sending = null;
      if (result.status === 200 && result.body.ok) {
        if (JSON.stringify(pending[position]) === JSON.stringify(selected)) { delete pending[position]; }
        persist();
        syncDeadline(result.body.seconds_left);
        retryDelay = 2000;
        setStatus(fs, "Tersimpan ✓", "saved");
        flush();
      } else if (result.status === 409 && result.body.closed) {
        pending = {};
        persist();
        window.location.assign(result.body.result_url);
      } else {
        delete pending[position];
        persist();
        setStatus(fs, result.body.error || "Gagal menyimpan.", "error");
        flush();
      }
    }).catch(function (error) {
      sending = null;
      setStatus(fs, error && error.message && error.message.indexOf("Sesi") === 0
        ? error.message : "Belum tersimpan — akan dicoba lagi otomatis", "pending");
      updateBar();
      scheduleRetry();
    });
    updateBar();
  }

  // A reload or a phone that slept: choices made while offline are newer than the server's.
  Object.keys(pending).forEach(function (position) {
    var fs = fieldset(position);
    if (!fs) { delete pending[position]; return; }
    inputs(fs).forEach(function (i) { i.checked = pending[position].indexOf(i.value) !== -1; });
    setStatus(fs, "Belum tersimpan — mengirim ulang…", "pending");
  });
  persist();

  form.addEventListener("change", function (event) {
    var fs = event.target.closest("fieldset[data-position]");
    if (!fs) { return; }
    pending[fs.getAttribute("data-position")] = selection(fs);
    persist();
    updateBar();
    flush();
  });

  window.addEventListener("online", function () { retryDelay = 2000; flush(); });
  window.addEventListener("beforeunload", function (event) {
    if (Object.keys(pending).length && !submitting) { event.preventDefault(); event.returnValue = ""; }
  });

  form.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    if (submitter && submitter.value === "kirim" && !form.hasAttribute("data-auto")) {
      var empty = Array.prototype.filter.call(
        form.querySelectorAll("fieldset[data-position]"),
        function (fs) { return selection(fs).length === 0; }
      ).length;
      var question = empty
        ? empty + " soal belum dijawab. Kirim jawaban sekarang? Setelah dikirim, jawaban tidak dapat diubah."
        : "Kirim jawaban sekarang? Setelah dikirim, jawaban tidak dapat diubah.";
      if (!window.confirm(question)) { event.preventDefault(); return; }
    }
    submitting = true;  // the form carries every choice on the page
  });

  // Countdown to the deadline the server keeps; at zero, submit what the page holds.
  // The server says how many seconds are left (on the page, and again with every answer
  // saved); the phone only measures time passing since then. Its clock may be minutes off or
  // in another zone, so it is never compared with the deadline itself.
  if (timer && /^\d+$/.test(timer.getAttribute("data-seconds-left") || "")) {
    syncDeadline(Number(timer.getAttribute("data-seconds-left")));
    var tick = function () {
      var left = Math.max(0, Math.floor((endsAt - Date.now()) / 1000));
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      timer.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      if (left <= 60) { timer.setAttribute("data-state", "ending"); }
      if (left === 0) {
        window.clearInterval(interval);
        if (!submitting) {
          submitting = true;
          form.setAttribute("data-auto", "1");
          var action = document.createElement("input");
          action.type = "hidden";
          action.name = "action";
          action.value = "kirim";
          form.appendChild(action);
          form.submit();
        }
      }
    };
    var interval = window.setInterval(tick, 1000);
    tick();
  }

  updateBar();
  flush();
})();
