/* The buyer's return page (pay/return.html): ask our status address until the payment is
   recorded (or can no longer be), then show the page again with the outcome. Only our records are
   read; the answer never carries anything but this invoice's state. */
(function () {
  "use strict";
  var box = document.getElementById("return-state");
  var url = box && box.getAttribute("data-poll-url");
  if (!url) {
    return;
  }
  var tries = 0;
  var slowAfter = 45; // about two minutes of asking
  function delay() {
    return Math.min(2000 + tries * 250, 10000);
  }
  function ask() {
    tries += 1;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        if (answer && answer.state && answer.state !== "confirming") {
          window.location.reload();
          return;
        }
        if (tries === slowAfter) {
          var slow = document.getElementById("return-slow");
          if (slow) {
            slow.hidden = false;
          }
        }
        if (answer !== null && tries < 400) {
          window.setTimeout(ask, delay());
        }
      })
      .catch(function () {
        if (tries < 400) {
          window.setTimeout(ask, delay());
        }
      });
  }
  window.setTimeout(ask, delay());
})();
