// The web phone without page reloads: each form posts in the background and the server sends the phone back.
(function () {
  "use strict";
  function wire(root) {
    root.querySelectorAll("form[data-phone]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var data = new FormData(form);
        if (event.submitter && event.submitter.name) { data.set(event.submitter.name, event.submitter.value); }
        fetch(form.action, {method: "POST", body: data, credentials: "same-origin",
                            headers: {"Accept": "application/json"}})
          .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
          .then(function (reply) {
            var old = document.getElementById("web-phone");
            old.outerHTML = reply.html;
            var fresh = document.getElementById("web-phone");
            wire(fresh);
            var screen = document.getElementById("phone-screen");
            screen.scrollTop = screen.scrollHeight;
            var input = document.getElementById("phone-text");
            if (input && !input.disabled) { input.focus(); }
          })
          .catch(function () { form.submit(); });
      });
    });
    var screen = document.getElementById("phone-screen");
    if (screen) { screen.scrollTop = screen.scrollHeight; }
  }
  wire(document);
})();
