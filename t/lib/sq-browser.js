#!/usr/bin/env node
// Drives Debian's Chromium (headless, through puppeteer-core) for the
// browser tests: loads each URL, waits, then leaves the page for
// about:blank, as a reader does, so that the page is hidden and its
// script sends the beacon.  Prints one line of JSON per page: the URL,
// the load's status and the requests the page made (to the beacon too).
//
//   NODE_PATH=build/beacon/node_modules \
//       node t/lib/sq-browser.js CHROMIUM WAIT_MS URL...

"use strict";

const puppeteer = require("puppeteer-core");

async function main() {
  const [chromium, wait, ...urls] = process.argv.slice(2);
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-dev-shm-usage", "--disable-background-networking"],
  });

  try {
    for (const url of urls) {
      const page = await browser.newPage();
      const seen = [];
      page.on("request", (r) => seen.push(r.method() + " " + r.url()));
      const res = await page.goto(url, { waitUntil: "load", timeout: 30000 });
      await new Promise((ok) => setTimeout(ok, Number(wait)));
      await page.goto("about:blank");
      await new Promise((ok) => setTimeout(ok, 300));
      await page.close();
      console.log(JSON.stringify({ url, status: res ? res.status() : 0,
                                   requests: seen }));
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(String(e && e.stack || e));
  process.exit(1);
});
