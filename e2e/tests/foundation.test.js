// The foundation in a real browser: sign in and out, wrong passwords, lockout, roles' menus,
// the security admin's account form, the audit admin's log, English, a phone-sized screen.
"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { useWeige, login, screenshot, PASSWORD } = require("./harness");

const env = useWeige();

test("the demo prints its address and the demo accounts", () => {
  const out = env.weige.printed();
  assert.match(out, /open: http:\/\/127\.0\.0\.1:\d+\//);
  assert.match(out, /admin\s+街道管理员/);
  assert.match(out, /Weige@2026/);
});

test("the demo admin signs in, sees the home page and signs out", async () => {
  const page = await env.browser.newPage();
  await login(page, env.weige.url, "admin");
  assert.equal(new URL(page.url()).pathname, "/");
  await page.waitForSelector("text=您好，街道管理员 李明");
  assert.equal(await page.textContent("[data-testid=role]"), "街道管理员");
  await screenshot(page, "home-admin");
  await Promise.all([page.waitForURL(/\/login\?loggedout=1/), page.click("[data-testid=logout]")]);
  await page.waitForSelector("text=您已退出登录");
  // The old session is gone: the home page sends us back to sign in.
  await page.goto(`${env.weige.url}/`);
  assert.equal(new URL(page.url()).pathname, "/login");
  await page.close();
});

test("a wrong password shows a clear error", async () => {
  const page = await env.browser.newPage();
  await login(page, env.weige.url, "community", "not-the-password");
  const error = await page.textContent("[data-testid=login-error]");
  assert.equal(error.trim(), "用户名或密码错误");
  assert.equal(await page.inputValue("#username"), "community", "the username stays filled in");
  await page.close();
});

test("the sixth wrong password finds the account locked, even with the right password", async () => {
  const page = await env.browser.newPage();
  for (let i = 1; i <= 4; i++) {
    await login(page, env.weige.url, "volunteer", `Wrong-${i}xx`);
    assert.equal((await page.textContent("[data-testid=login-error]")).trim(), "用户名或密码错误", `attempt ${i}`);
  }
  await login(page, env.weige.url, "volunteer", "Wrong-5xx");
  assert.match(await page.textContent("[data-testid=login-error]"), /账户已锁定/);
  await login(page, env.weige.url, "volunteer", PASSWORD);
  assert.match(await page.textContent("[data-testid=login-error]"), /账户已锁定/);
  await screenshot(page, "locked");
  assert.equal(new URL(page.url()).pathname, "/login");
  await page.close();
});

test("the security admin creates an account through the form, and it can sign in", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await login(page, env.weige.url, "secadmin");
  await page.click("text=账户管理");
  await page.click("summary:has-text('新建账户')");
  await page.fill("#new-username", "wang.wgy");
  await page.fill("#new-name", "王网格员");
  await page.fill("#new-password", "Wgy-2026!");
  await page.selectOption("#new-home", "510115001001");
  await Promise.all([page.waitForURL(/ok=1/), page.click("form[action='/admin/accounts'] button[type=submit]")]);
  await page.waitForSelector("text=操作成功");
  const row = page.locator("tr", { hasText: "wang.wgy" });
  await row.locator("select[name=role]").selectOption("grid_worker");
  await row.locator("select[name=scope]").selectOption("510115001001");
  await Promise.all([page.waitForURL(/ok=1/), row.locator("button:has-text('授予角色')").click()]);
  assert.match(await page.locator("tr", { hasText: "wang.wgy" }).textContent(), /专职网格员/);
  await screenshot(page, "accounts");
  await context.close();

  const other = await env.browser.newContext();
  const p2 = await other.newPage();
  await login(p2, env.weige.url, "wang.wgy", "Wgy-2026!");
  await p2.waitForSelector("text=您好，王网格员");
  assert.equal(await p2.textContent("[data-testid=role]"), "专职网格员");
  // A grid worker's menu has no admin pages, and typing the address is refused.
  assert.equal(await p2.locator("nav a[href='/admin/accounts']").count(), 0);
  const res = await p2.goto(`${env.weige.url}/admin/accounts`);
  assert.equal(res.status(), 403);
  await other.close();
});

test("the audit admin reads the failed sign-ins and the refusal", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await login(page, env.weige.url, "auditor");
  await page.click("text=审计日志");
  await page.selectOption("#action", "login_failed");
  await Promise.all([page.waitForURL(/action=login_failed/), page.click("text=筛选")]);
  const rows = await page.locator("#audit-rows tr[data-action=login_failed]").count();
  assert.ok(rows >= 6, `expected the failed sign-ins, saw ${rows}`);
  await page.goto(`${env.weige.url}/audit?action=permission_denied`);
  assert.ok((await page.locator("#audit-rows tr[data-action=permission_denied]").count()) >= 1);
  await screenshot(page, "audit");
  await context.close();
});

test("English can be chosen, and a phone-sized screen needs no sideways scrolling", async () => {
  const context = await env.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(`${env.weige.url}/login`);
  await page.click("text=English");
  await page.waitForSelector("button:has-text('Sign in')");
  await login(page, env.weige.url, "micro");
  await page.waitForSelector("text=Welcome, 微网格员 黄秀英");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  await page.click("#nav-toggle");
  await page.waitForSelector("nav.side a[href='/grid']", { state: "visible" });
  await page.waitForTimeout(400); // let the drawer finish sliding in before the picture
  await screenshot(page, "phone-en");
  await context.close();
});
