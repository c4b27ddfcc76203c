// Progressive enhancement only: every page works without it.
// A form's submit button is disabled once pressed, so that an impatient
// second click does not post the same action twice.
"use strict";
document.addEventListener("submit", function (ev) {
  var b = ev.target.querySelector("button[type=submit]");
  if (b) {
    window.setTimeout(function () { b.disabled = true; }, 0);
  }
});
