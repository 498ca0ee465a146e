// Live previews: the server renders every text (so it is translated and uses the same code as sending);
// this script only asks again as the form changes. Without JavaScript the Preview buttons do the same.
(function () {
  "use strict";

  function debounce(fn, ms) {
    var timer;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function query(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (key !== "csrf_token" && key !== "action") { params.append(key, value); }
    });
    return params.toString();
  }

  // Forms with data-preview: replace #sms-preview with the server's rendering of the current values.
  document.querySelectorAll("form[data-preview]").forEach(function (form) {
    var refresh = debounce(function () {
      fetch(form.dataset.preview + "?" + query(form), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          var old = document.getElementById("sms-preview");
          if (data && old) { old.outerHTML = data.html; }
        })
        .catch(function () {});
    }, 300);
    form.addEventListener("input", refresh);
    form.addEventListener("change", refresh);
    refresh();
  });

  // Text areas with data-sms-count="<id>": characters and segments as the person types.
  document.querySelectorAll("[data-sms-count]").forEach(function (area) {
    var out = document.getElementById(area.dataset.smsCount);
    var base = document.body.dataset.smsSize;
    if (!out || !base) { return; }
    var refresh = debounce(function () {
      fetch(base + "?" + new URLSearchParams({text: area.value}), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) { out.textContent = data.label; } })
        .catch(function () {});
    }, 250);
    area.addEventListener("input", refresh);
    refresh();
  });
})();
