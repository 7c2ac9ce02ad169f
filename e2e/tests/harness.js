// Starts `weige demo` on a free port with a fresh database, and a headless Debian chromium
// (playwright gives it a new, empty profile each launch).
"use strict";
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const BIN = process.env.WEIGE_BIN || path.join(__dirname, "..", "..", "target", "debug", "weige");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const PASSWORD = "Weige@2026";

async function startWeige() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "weige-e2e-"));
  const args = ["--database", `sqlite://${path.join(dir, "weige.db")}`, "demo", "--listen", "127.0.0.1:0"];
  const child = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weige did not print its address:\n${out}\n${err}`)), 60000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/open: (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`weige exited with ${code}:\n${out}\n${err}`)));
  });
  return {
    url: url.replace(/\/$/, ""),
    printed: () => out,
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners("exit");
        child.on("exit", (code, signal) => resolve({ code, signal }));
        child.kill("SIGTERM");
      }),
  };
}

async function startBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  });
}

async function login(page, base, username, password = PASSWORD) {
  await page.goto(`${base}/login`);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
}

const shots = path.join(__dirname, "..", "test-results");
async function screenshot(page, name) {
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/** A phone-sized page, as grid workers and residents use Weige. */
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

/**
 * Starts Weige and a browser before the file's tests and stops them after: `env.weige` and
 * `env.browser` are there once the tests run.
 */
function useWeige() {
  const { before, after } = require("node:test");
  const env = { weige: null, browser: null };
  before(async () => {
    env.weige = await startWeige();
    env.browser = await startBrowser();
  });
  after(async () => {
    if (env.browser) await env.browser.close();
    if (env.weige) {
      const exit = await env.weige.stop();
      require("node:assert/strict").equal(exit.code, 0, "weige stops cleanly on SIGTERM");
    }
  });
  return env;
}

module.exports = { startWeige, startBrowser, useWeige, login, screenshot, PASSWORD, PHONE };
