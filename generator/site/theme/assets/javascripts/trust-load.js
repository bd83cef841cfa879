/* Material for MkDocs' bundle, started at the visitor's first interaction (a touch, a scroll, the mouse, a key,
   focus) instead of with the page. What a page says is all in its HTML and CSS; the bundle adds search, tooltips,
   the table of contents following the scroll, and its start-up (a few hundred milliseconds of main thread on a
   phone, more on long pages) kept the page busy while it was being read. A URL that asks Material for something
   at once (a search query, terms to highlight) starts it at once.

   Until it starts, this shows the palette switch Material would show, and a switch made before then is applied
   and kept where Material reads it when it starts (so the first tap on it is not lost). A first key that is one of
   Material's shortcuts ("/" or "s" for search, "p" and "n" for the previous and next page) is handed to it once it
   has started, so that it is not lost either. */
(function () {
  var loader = document.currentScript;
  var events = ["pointerdown", "pointermove", "touchstart", "keydown", "focusin", "wheel", "scroll"];
  var options = { capture: true, passive: true };
  var requested = false;
  var shortcut = null;  // a first key press Material answers, to hand on once it runs
  var shortcuts = ["/", "s", "f", "p", ",", "n", "."];
  var form = document.querySelector("[data-md-component=palette]");
  var inputs = form ? Array.prototype.slice.call(form.querySelectorAll("input")) : [];

  function show(index) {
    inputs.forEach(function (input, i) {
      input.checked = i === index;
      if (input.nextElementSibling) input.nextElementSibling.hidden = i !== index;
    });
  }

  function remember(event) {
    var input = event.target;
    var color = {};
    ["media", "scheme", "primary", "accent"].forEach(function (key) {
      color[key] = input.getAttribute("data-md-color-" + key);
    });
    __md_set("__palette", { index: inputs.indexOf(input), color: color });
    var shown = input;
    if (color.media === "(prefers-color-scheme)") {  // automatic: the scheme the system prefers now
      var dark = matchMedia("(prefers-color-scheme: dark)").matches;
      shown = form.querySelector("[data-md-color-media='(prefers-color-scheme: " + (dark ? "dark" : "light") + ")']") || input;
    }
    ["media", "scheme", "primary", "accent"].forEach(function (key) {
      document.body.setAttribute("data-md-color-" + key, shown.getAttribute("data-md-color-" + key));
    });
    show(inputs.indexOf(input));
  }

  function start(event) {
    if (requested) return;
    requested = true;
    if (event && event.type === "keydown" && shortcuts.indexOf(event.key) >= 0 && !event.ctrlKey && !event.metaKey
        && !event.altKey && !/^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName || "")) {
      shortcut = event.key;
    }
    events.forEach(function (name) { removeEventListener(name, start, options); });
    var bundle = document.createElement("script");
    bundle.src = loader.getAttribute("data-bundle");
    bundle.onload = function () {
      if (form) form.removeEventListener("change", remember);
      // Material starts on DOMContentLoaded: a bundle that arrives after it is told again.
      if (document.readyState !== "loading") document.dispatchEvent(new Event("DOMContentLoaded"));
      if (shortcut) document.dispatchEvent(new KeyboardEvent("keydown", { key: shortcut, bubbles: true }));
      requestAnimationFrame(function () { document.documentElement.classList.remove("tc-lazy"); });
    };
    document.body.appendChild(bundle);
  }

  if (inputs.length) {
    var saved = __md_get("__palette");
    var index = saved ? saved.index : inputs.findIndex(function (input) {
      return matchMedia(input.getAttribute("data-md-color-media")).matches;
    });
    show(Math.max(0, Math.min(index, inputs.length - 1)));
    form.addEventListener("change", remember);
  }
  if (/[?&][qh]=/.test(location.search)) start();
  else events.forEach(function (name) { addEventListener(name, start, options); });
})();
