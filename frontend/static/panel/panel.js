/* The panel's few behaviours: copy buttons and confirmations. Everything works without it. */
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-http hosts (local development) have no async clipboard: fall back to a selection.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try {
        document.execCommand("copy") ? resolve() : reject(new Error("copy refused"));
      } catch (err) {
        reject(err);
      } finally {
        document.body.removeChild(area);
      }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var label = button.querySelector("span");
    var original = label ? label.textContent : "";
    copyText((source.value || source.textContent).trim()).then(function () {
      button.classList.add("is-copied");
      if (label) label.textContent = button.getAttribute("data-copied") || original;
      window.setTimeout(function () {
        button.classList.remove("is-copied");
        if (label) label.textContent = original;
      }, 1800);
    }, function () {
      window.getSelection().selectAllChildren(source);
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  });
})();
