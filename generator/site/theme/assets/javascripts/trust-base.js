/* Material for MkDocs' inline <script> from partials/javascripts/base.html, served as a file so the
   site runs under a Content-Security-Policy of script-src 'self'. Keep in step with Material. */
__md_scope=new URL("../../",document.currentScript.src),__md_hash=e=>[...e].reduce(((e,_)=>(e<<5)-e+_.charCodeAt(0)),0),__md_get=(e,_=localStorage,t=__md_scope)=>JSON.parse(_.getItem(t.pathname+"."+e)),__md_set=(e,_,t=localStorage,a=__md_scope)=>{try{t.setItem(a.pathname+"."+e,JSON.stringify(_))}catch(e){}}
/* The trust center's own: Material's bundle starts at the visitor's first interaction (trust-load.js; data-lazy,
   unless the site has scripts of its own), but the page is drawn from the start as Material draws it with
   JavaScript (its search box shown), so nothing appears late; until the bundle sizes the sidebars, "tc-lazy" keeps
   them at their natural height (trust.css). */
document.documentElement.classList.remove("no-js");document.documentElement.classList.add("js");document.currentScript.hasAttribute("data-lazy")&&document.documentElement.classList.add("tc-lazy")
