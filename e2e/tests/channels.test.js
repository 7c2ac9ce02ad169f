// The other channels in a real env.browser. A phone operator works the keyboard only: looks the
// caller up, registers a case, and when the same caller rings again adds the call to that open
// case. A chat bot posts a signed message; the micro-grid worker confirms it in one tap.
"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { useWeige, login, screenshot, PHONE } = require("./harness");

const MICRO = "510115001001001001";
const DESK = { viewport: { width: 1280, height: 900 } };

const env = useWeige();

test("a phone operator registers a call and adds the caller's next call to it, keyboard only", async () => {
  const ctx = await env.browser.newContext(DESK);
  const p = await ctx.newPage();
  await login(p, env.weige.url, "community");
  await p.goto(`${env.weige.url}/phone`);
  // The number has the focus; Enter looks the caller up and moves on to the name.
  await p.keyboard.type("13912340000");
  await p.keyboard.press("Enter");
  await p.waitForSelector("#caller-body >> text=此号码没有反映过问题");
  assert.equal(await p.evaluate(() => document.activeElement.id), "p-name");
  await p.keyboard.type("赵大爷");
  await p.keyboard.press("Tab");
  await p.keyboard.type("sg.sanitation");
  await p.keyboard.press("Tab");
  await p.keyboard.type("小区东门垃圾站三天没清运");
  await p.keyboard.press("Tab");
  await p.keyboard.press("Tab");
  await p.keyboard.type(MICRO);
  await p.keyboard.press("Control+Enter");
  const made = await p.waitForSelector("[data-testid=phone-made]");
  const number = (await made.textContent()).match(/\d{9}-\d{4}-\d+/)[0];
  assert.equal(await p.evaluate(() => document.activeElement.id), "p-phone", "ready for the next call");
  assert.equal(await p.inputValue("#p-description"), "", "the form is cleared");

  // The same caller rings again: their open case is there; Alt+1 adds this call to it.
  await p.keyboard.type("13912340000");
  await p.keyboard.press("Enter");
  const earlier = await p.waitForSelector("[data-testid=caller-case]");
  assert.match(await earlier.textContent(), new RegExp(number));
  assert.match(await p.textContent("#caller-body"), /139\*\*\*\*0000/, "the number shown masked");
  await p.keyboard.type("赵大爷");
  await p.focus("#p-description");
  await p.keyboard.type("又打来催问什么时候清运");
  await p.keyboard.press("Alt+1");
  const added = await p.waitForSelector("[data-testid=phone-added]");
  assert.match(await added.textContent(), new RegExp(number));
  await screenshot(p, "phone-desk");

  // The caller's earlier cases through the API (the list filter by phone), then the case page.
  const found = await p.evaluate(async () => (await fetch("/api/v1/cases?phone=13912340000")).json());
  assert.deepEqual(found.items.map((c) => c.number), [number]);
  await p.goto(`${env.weige.url}/cases/${found.items[0].id}`);
  assert.match(await p.textContent("[data-testid=timeline]"), /来电补充（赵大爷 139\*\*\*\*0000）：又打来催问什么时候清运/);
  await ctx.close();
});

test("a chat bot posts a message and the micro-grid worker confirms it in one tap", async () => {
  const admin = await env.browser.newContext(DESK);
  const a = await admin.newPage();
  await login(a, env.weige.url, "sysadmin");
  const group = await a.evaluate(async (micro) => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const r = await fetch("/api/v1/chat-groups", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ code: "lc-e2e", name: "和平社区一组群", scope: micro }),
    });
    return r.json();
  }, MICRO);
  assert.ok(group.secret, JSON.stringify(group));
  await admin.close();

  const body = JSON.stringify({ message_id: "wx-e2e-1", sender: "王阿姨", text: "5栋电梯又停了，老人下不了楼" });
  const post = async () => {
    const ts = Math.floor(Date.now() / 1000);
    const sig = "sha256=" + crypto.createHmac("sha256", group.secret).update(`${ts}.${body}`).digest("hex");
    const r = await fetch(`${env.weige.url}/hooks/chat/lc-e2e`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Weige-Timestamp": String(ts), "X-Weige-Signature": sig },
      body,
    });
    return { status: r.status, body: await r.json() };
  };
  const first = await post();
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const again = await post();
  assert.equal(again.body.draft_id, first.body.draft_id, "posted twice, one draft");

  const worker = await env.browser.newContext(PHONE);
  const w = await worker.newPage();
  await login(w, env.weige.url, "micro");
  await w.goto(`${env.weige.url}/chat-drafts`);
  assert.equal(await w.locator("[data-testid=draft]").count(), 1);
  // The message reads like public facilities (电梯): that category is chosen already, one tap.
  assert.equal(await w.inputValue("[data-testid=draft] select[name=category]"), "sg.public_facilities");
  await screenshot(w, "chat-drafts-phone");
  await Promise.all([w.waitForURL(/\/cases\/\d+/), w.click("[data-testid=confirm-draft]")]);
  assert.match(await w.textContent("h1"), /公共设施维护/);
  assert.match(await w.textContent("main"), /微信群/);
  const reply = await post();
  assert.equal(reply.body.status, "confirmed");
  assert.match(reply.body.reply, new RegExp(reply.body.number));
  await worker.close();
});

test("a resident answers the category's extra questions on the QR page", async () => {
  const resident = await env.browser.newContext(PHONE);
  const r = await resident.newPage();
  await r.goto(`${env.weige.url}/report?grid=${MICRO}`);
  assert.equal(await r.locator("[data-question]").count(), 0, "the first category asks nothing more");
  await r.selectOption("#category", "sg.public_facilities");
  assert.equal(await r.locator("[data-question]").count(), 2);
  await r.selectOption("#q-facility", "door");
  await r.fill("#q-building", "3栋2单元");
  await r.fill("#description", "单元门禁刷卡没反应");
  await screenshot(r, "report-questions-phone");
  await Promise.all([r.waitForURL(/\/track\//), r.click("#report-submit")]);
  const number = await r.textContent("[data-testid=track-number]");
  await resident.close();

  const staff = await env.browser.newContext(DESK);
  const s = await staff.newPage();
  await login(s, env.weige.url, "micro");
  const found = await s.evaluate(async () => (await fetch("/api/v1/cases?channel=resident_page")).json());
  const id = found.items.find((c) => c.number === number).id;
  await s.goto(`${env.weige.url}/cases/${id}`);
  const answers = await s.locator("[data-testid=answer]").allTextContents();
  assert.deepEqual(answers, ["单元门禁", "3栋2单元"]);
  await staff.close();
});
