/* Material for MkDocs' inline <script> from partials/javascripts/palette.html, served as a file so the site runs
   under a Content-Security-Policy of script-src 'self', and given the palettes of mkdocs.yml (data-palettes): it
   runs before the page is drawn, when the palette switch in the header does not exist yet. A palette the visitor
   chose is applied as Material applies it; with none chosen, the one whose media query matches the system's light
   or dark preference, which Material's bundle would apply only when it starts (trust-load.js: at the first
   interaction). "(prefers-color-scheme)" (automatic) stands for the light or dark palette the system prefers. */
(function () {
  var palettes = JSON.parse(document.currentScript.getAttribute("data-palettes") || "[]");
  var saved = __md_get("__palette");
  var color = saved && saved.color;
  if (!color) {
    color = palettes.filter(function (palette) { return palette.media && matchMedia(palette.media).matches; })[0];
  }
  if (color && color.media === "(prefers-color-scheme)") {
    var wanted = "(prefers-color-scheme: " + (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark") + ")";
    color = palettes.filter(function (palette) { return palette.media === wanted; })[0] || color;
  }
  if (color) {
    ["media", "scheme", "primary", "accent"].forEach(function (key) {
      if (color[key]) document.body.setAttribute("data-md-color-" + key, color[key]);
    });
  }
})();
