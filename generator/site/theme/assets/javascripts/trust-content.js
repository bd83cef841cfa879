/* Material for MkDocs' inline <script> from partials/javascripts/content.html (without content.tabs.link),
   served as a file so the site runs under a Content-Security-Policy of script-src 'self'. */
var target=document.getElementById(location.hash.slice(1));target&&target.name&&(target.checked=target.name.startsWith("__tabbed_"))
