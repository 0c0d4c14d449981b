// The period drop-down submits its form on change (a script file: the Content-Security-Policy
// allows no inline event handlers).
(function () {
  "use strict";
  var days = document.getElementById("days");
  if (days) {
    days.addEventListener("change", function () {
      days.form.submit();
    });
  }
})();
