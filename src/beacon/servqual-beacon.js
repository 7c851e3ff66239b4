/*
 * Copyright (C) servqual authors
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * servqual's browser script: this page view's LCP, INP, CLS, FCP and TTFB
 * as Google's web-vitals library measures them (joined before this by
 * scripts/beacon-build), sent once to the servqual_beacon location when
 * the page is first hidden or left.  Its own tag configures it:
 *
 *   <script src="/servqual/beacon.js" data-page="checkout"
 *           data-beacon="/servqual/beacon" async></script>
 *
 * data-page: the page's name (default: location.pathname); data-beacon:
 * the beacon's URL (default: /servqual/beacon).  The body is
 * "p=checkout&n=navigate&lcp=1840.2&inp=96&cls=0.02130&fcp=912.5&ttfb=180"
 * (times in milliseconds), as the README's servqual_beacon describes.
 */

(function (w, d) {
  "use strict";

  var v = w.webVitals, s = d.currentScript, m = {}, nav = "", done = 0;

  if (!v || !w.navigator.sendBeacon) {
    return;
  }

  function attr(name, dflt) {
    return (s && s.getAttribute(name)) || dflt;
  }

  var url = attr("data-beacon", "/servqual/beacon");
  var page = attr("data-page", w.location.pathname)
             .replace(/[^A-Za-z0-9_.\/:~-]/g, "_").slice(0, 128) || "/";

  function keep(x) {
    m[x.name.toLowerCase()] = x.name === "CLS" ? x.value.toFixed(5)
                                               : x.value.toFixed(1);
    nav = x.navigationType;
  }

  function send() {
    var k, b = "p=" + page;

    /*
     * once, when hidden: web-vitals reports LCP, CLS and INP as the page
     * turns hidden, and Chrome fires pagehide before that on leaving
     */

    if (done || d.visibilityState !== "hidden") {
      return;
    }

    done = 1;

    if (/^[a-z-]{1,32}$/.test(nav)) {
      b += "&n=" + nav;
    }

    for (k in m) {
      b += "&" + k + "=" + m[k];
    }

    w.navigator.sendBeacon(url, b);
  }

  v.onLCP(keep);
  v.onINP(keep);
  v.onCLS(keep);
  v.onFCP(keep);
  v.onTTFB(keep);

  /* after web-vitals' own listeners, which report on the same event */

  d.addEventListener("visibilitychange", send);
  w.addEventListener("pagehide", send);
})(window, document);
