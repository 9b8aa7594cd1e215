/* Runs before the page is drawn (a blocking script in <head>, no inline script under the
   Content-Security-Policy): styles that depend on JavaScript apply from the first paint. */
document.documentElement.classList.add("js");
