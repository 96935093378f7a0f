// bimtek: the little JavaScript we need. Every page works without it.
(function () {
  "use strict";

  // A submit button marked data-once is disabled after the first click, so a
  // double tap on a slow link sends the form once.
  document.addEventListener("submit", function (event) {
    var buttons = event.target.querySelectorAll("button[data-once]");
    window.setTimeout(function () {
      if (event.defaultPrevented) { return; }  // e.g. the participant cancelled a confirmation
      buttons.forEach(function (button) { button.disabled = true; });
    }, 0);
  });

  // A button with data-confirm asks before its form is sent (e.g. deleting a session).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);

  // A button marked data-print prints the page (e.g. a password slip).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-print]");
    if (button) { window.print(); }
  });
  // A module's table of contents starts folded on a phone (the text comes first) and open
  // on a wide screen.
  if (window.matchMedia("(min-width: 48rem)").matches) {
    document.querySelectorAll("details[data-open-wide]").forEach(function (details) {
      details.open = true;
    });
  }

  // Participant form: show only the desa of the chosen kecamatan.
  var kecamatan = document.getElementById("kecamatan_kode");
  var desa = document.getElementById("desa_kode");
  if (kecamatan && desa) {
    var filter = function () {
      var prefix = kecamatan.value ? kecamatan.value + "." : "";
      Array.prototype.forEach.call(desa.options, function (option) {
        var keep = !option.value || (prefix && option.value.indexOf(prefix) === 0);
        option.hidden = !keep;
        option.disabled = !keep;
      });
      var selected = desa.options[desa.selectedIndex];
      if (selected && selected.disabled) { desa.value = ""; }
    };
    kecamatan.addEventListener("change", filter);
    filter();
  }
})();
