// The case loop in a real env.browser. A resident reports from a micro-grid's QR page with a photo;
// the micro-grid worker takes it on a phone-sized page and handles it with an after-photo; the
// resident verifies and rates it; it is closed at the micro-grid tier. And: the worker
// escalates, the grid worker summons a department, the time runs out, the case turns red.
"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { useWeige, login, screenshot, PHONE } = require("./harness");

const MICRO = "510115001001001001";
// A 1×1 PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

const env = useWeige();

/** Presses an action button on the case page and waits for the page to show the new state. */
async function act(page, action, fill) {
  if (fill) await fill();
  await Promise.all([page.waitForEvent("load"), page.click(`[data-testid=act-${action}]`)]);
}

test("a resident reports from the QR page, the micro-grid worker handles it, the resident closes it", async () => {
  const resident = await env.browser.newContext(PHONE);
  const r = await resident.newPage();
  await r.goto(`${env.weige.url}/report?grid=${MICRO}`);
  assert.match(await r.textContent("[data-testid=report-place]"), /和平社区1-1号微网格/);
  await r.selectOption("#category", "sg.sanitation");
  await r.fill("#description", "3栋楼道堆满纸箱，影响通行");
  await r.setInputFiles("#photos", { name: "before.png", mimeType: "image/png", buffer: PNG });
  await r.fill("#reporter_phone", "13912345678");
  await Promise.all([r.waitForURL(/\/track\//), r.click("#report-submit")]);
  assert.equal(await r.textContent("[data-testid=track-status]"), "待受理");
  const number = await r.textContent("[data-testid=track-number]");
  const followUrl = r.url();
  await screenshot(r, "case-reported-phone");

  const worker = await env.browser.newContext(PHONE);
  const w = await worker.newPage();
  await login(w, env.weige.url, "micro");
  await w.goto(`${env.weige.url}/cases?view=mine`);
  await Promise.all([w.waitForURL(/\/cases\/\d+$/), w.click(`[data-testid=case][data-number="${number}"]`)]);
  assert.equal(await w.locator("[data-testid=photo-before]").count(), 1, "the resident's photo");
  await act(w, "accept");
  assert.equal(await w.textContent("[data-testid=case-status]"), "已派遣");
  await act(w, "claim");
  await act(w, "handle", async () => {
    await w.fill("#act-reason", "已清理楼道纸箱");
    await w.setInputFiles("#act-photos", { name: "after.png", mimeType: "image/png", buffer: PNG });
  });
  assert.equal(await w.textContent("[data-testid=case-status]"), "已处置");
  assert.equal(await w.locator("[data-testid=photo-after]").count(), 1, "the after-photo");
  await screenshot(w, "case-handled-phone");

  await r.goto(followUrl);
  await r.check("input[value=satisfied]");
  await Promise.all([r.waitForEvent("load"), r.click("#rate-submit")]);
  assert.equal(await r.textContent("[data-testid=track-status]"), "已结案");
  assert.match(await r.textContent("[data-testid=track-rated]"), /满意/);

  await w.reload();
  assert.equal(await w.textContent("[data-testid=case-status]"), "已结案");
  assert.match(await w.textContent("[data-testid=case-tier]"), /解决于 微网格/);
  const steps = await w.locator("[data-testid=timeline] li").count();
  assert.equal(steps, 7, "report, accept, dispatch, claim, handle, pass, rate");
  await resident.close();
  await worker.close();
});

test("the worker escalates, the grid worker summons a department, the time runs out, the case turns red", async () => {
  // The street admin gives departments summoned to 一老一小 one minute to answer (吹哨报到; 30 by
  // default), so that time runs out here.
  const admin = await env.browser.newPage();
  await login(admin, env.weige.url, "admin");
  const saved = await admin.evaluate(async () => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const list = await (await fetch("/api/v1/categories")).json();
    const c = list.find((x) => x.code === "sg.elderly_children");
    c.limits.respond = { amount: 1, unit: "natural_minutes" };
    const r = await fetch("/api/v1/categories/sg.elderly_children", {
      method: "PUT", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(c),
    });
    return r.status;
  });
  assert.equal(saved, 200);

  const w = await env.browser.newPage(PHONE);
  await login(w, env.weige.url, "micro");
  await w.goto(`${env.weige.url}/cases/new`);
  await w.selectOption("#category", "sg.elderly_children");
  await w.fill("#description", "独居老人王大爷三天未出门");
  await w.fill("#address", "柳城大道8号 和平小区1栋");
  await Promise.all([w.waitForURL(/\/cases\/\d+$/), w.click("#report-submit")]);
  const caseUrl = w.url();
  await act(w, "accept");
  await act(w, "escalate", () => w.fill("#act-reason", "需网格协调社区资源"));
  assert.match(await w.textContent("[data-testid=case-tier]"), /网格/);

  const g = await env.browser.newPage();
  await login(g, env.weige.url, "grid");
  await g.goto(caseUrl);
  assert.equal(await g.textContent("[data-testid=case-status]"), "已派遣", "sent on to the grid worker");
  await act(g, "dispatch", async () => {
    await g.fill("#act-to", "dept");
    await g.fill("#act-reason", "吹哨：请民政部门到场");
  });
  assert.match(await g.textContent("[data-testid=case-tier]"), /职能部门/);
  assert.equal(await g.textContent("[data-testid=stage-clock]"), "正常");
  await new Promise((resolve) => setTimeout(resolve, 65000));
  await g.reload();
  assert.equal(await g.textContent("[data-testid=stage-clock]"), "超时");
  await g.goto(`${env.weige.url}/cases?view=overdue`);
  assert.equal(await g.locator("[data-testid=case][data-clock=red]").count(), 1);
  await screenshot(g, "case-overdue");
  await admin.close();
  await w.close();
  await g.close();
});

test("the street admin sets a category's limit and a holiday; the dispatch queue accepts two reports at once", async () => {
  const admin = await env.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await login(admin, env.weige.url, "admin");
  await admin.goto(`${env.weige.url}/admin/categories/sg.policy_question`);
  await admin.fill("#l-handle", "4");
  await Promise.all([admin.waitForLoadState("load"), admin.click("[data-testid=category-form] button[type=submit]")]);
  assert.match(await admin.textContent("[data-testid=category][data-code='sg.policy_question']"), /4 工作日/);
  await admin.goto(`${env.weige.url}/admin/calendar?year=2027`);
  await admin.fill("#d-day", "2027-01-01");
  await Promise.all([admin.waitForLoadState("load"), admin.click("[data-testid=calendar-form] button[type=submit]")]);
  assert.equal(await admin.locator("[data-testid=calendar-day][data-day='2027-01-01']").count(), 1);

  const staff = await env.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await login(staff, env.weige.url, "community");
  const numbers = await staff.evaluate(async (micro) => {
    const out = [];
    for (const text of ["政策咨询：独生子女奖励", "政策咨询：养老补贴"]) {
      const r = await fetch("/report", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
        body: JSON.stringify({ category: "sg.policy_question", description: text, micro_grid: micro }),
      });
      out.push((await r.json()).number);
    }
    return out;
  }, MICRO);
  await staff.goto(`${env.weige.url}/cases?view=all&status=reported`);
  for (const n of numbers) await staff.check(`.bulk-pick[aria-label="${n}"]`);
  await staff.selectOption("#bulk-action", "accept");
  await staff.click("#bulk-form button[type=submit]");
  await staff.waitForSelector("[data-testid=bulk-done]");
  await staff.goto(`${env.weige.url}/cases?view=all&status=dispatched`);
  for (const n of numbers) {
    assert.equal(await staff.locator(`[data-testid=case][data-number="${n}"]`).count(), 1, `${n} accepted and dispatched`);
  }
  await admin.close();
  await staff.close();
});
