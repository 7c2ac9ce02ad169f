// The grid map in a real browser: a grid worker opens it, clicks a micro-grid of their grid and
// sees what it is and who works on it; the division check of the demo street is clean.
"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { useWeige, login, screenshot } = require("./harness");

const env = useWeige();

/** Clicks the centre of the micro-grid `code` on the Leaflet map. */
async function clickCell(page, code) {
  const point = await page.evaluate((code) => {
    const el = document.getElementById("map");
    const { map, layers } = el.weige;
    const layer = layers.micro_grid.getLayers().find((l) => l.feature.properties.code === code);
    const p = map.latLngToContainerPoint(layer.getBounds().getCenter());
    const box = el.getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y };
  }, code);
  await page.mouse.click(point.x, point.y);
}

test("a grid worker opens the map, clicks a micro-grid of their grid and sees it", async () => {
  const page = await env.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await login(page, env.weige.url, "grid");
  await page.click("nav >> text=网格地图");
  await page.waitForSelector("#map[data-ready='1']");
  assert.match(await page.textContent("h1"), /和平社区第1网格/);
  const cells = await page.evaluate(() => document.getElementById("map").weige.layers.micro_grid.getLayers().length);
  assert.equal(cells, 8, "the grid's 8 micro-grids are drawn");
  await clickCell(page, "510115001001001001");
  await page.waitForSelector("[data-testid=cell-name]");
  assert.equal(await page.textContent("[data-testid=cell-name]"), "和平社区1-1号微网格");
  await page.waitForSelector("#cell-staff >> text=黄秀英");
  assert.match(await page.textContent("#cell-panel"), /510115001001001001/);
  await screenshot(page, "map-grid-worker");
  // Another community's map is not theirs.
  const res = await page.goto(`${env.weige.url}/map?scope=510115001002`);
  assert.equal(res.status(), 403);
  await page.close();
});

test("the street admin sees the whole street and a clean division check", async () => {
  const page = await env.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await login(page, env.weige.url, "admin");
  await page.goto(`${env.weige.url}/map`);
  await page.waitForSelector("#map[data-ready='1']");
  const counts = await page.evaluate(() => {
    const l = document.getElementById("map").weige.layers;
    return [l.community.getLayers().length, l.grid.getLayers().length, l.micro_grid.getLayers().length];
  });
  assert.deepEqual(counts, [19, 60, 480]);
  await screenshot(page, "map-street");
  await page.click("nav >> text=划分检查");
  await page.waitForSelector("[data-testid=check-clean]");
  await page.close();
});

test("from the map to a household: masked phones, and a reveal that the audit log records", async () => {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await login(page, env.weige.url, "grid");
  await page.goto(`${env.weige.url}/map`);
  await page.waitForSelector("#map[data-ready='1']");
  await clickCell(page, "510115001001001001");
  await page.waitForSelector("[data-testid=household-count]");
  const count = Number(await page.textContent("[data-testid=household-count]"));
  assert.ok(count >= 30 && count <= 100, `a micro-grid holds 30–100 households, saw ${count}`);
  await Promise.all([page.waitForURL(/\/registry\/households\/\d+/), page.click("#cell-households li a >> nth=0")]);
  const masked = await page.textContent("[data-testid=member] >> nth=0");
  assert.match(masked, /\d{6}\*{8}\d{3}[\dX]/, "the ID number is masked");
  const phoneCell = page.locator("[data-testid=member] td:nth-child(4)").first();
  const before = await phoneCell.textContent();
  assert.match(before, /1\d\d\*{4}\d{4}/);
  await phoneCell.locator("[data-testid=reveal-phone]").click();
  await page.waitForSelector("[data-testid=revealed]");
  assert.match(await page.textContent("[data-testid=revealed]"), /^1\d{10}$/);
  await screenshot(page, "household-revealed");
  await context.close();

  const audit = await env.browser.newContext();
  const ap = await audit.newPage();
  await login(ap, env.weige.url, "auditor");
  await ap.goto(`${env.weige.url}/audit?action=personal_data_revealed`);
  const rows = ap.locator("#audit-rows tr[data-action=personal_data_revealed]");
  assert.equal(await rows.count(), 1);
  assert.match(await rows.first().textContent(), /grid/);
  await audit.close();
});

test("the contact cards of a grid print with a QR code each", async () => {
  const page = await env.browser.newPage({ viewport: { width: 1100, height: 1400 } });
  await login(page, env.weige.url, "grid");
  await page.click("nav >> text=联系卡");
  await page.waitForSelector("[data-testid=card]");
  assert.equal(await page.locator("[data-testid=card]").count(), 8);
  assert.equal(await page.locator("[data-testid=card] .qr svg").count(), 8);
  await page.emulateMedia({ media: "print" });
  assert.equal(await page.locator("nav.side").isVisible(), false, "no navigation on paper");
  await screenshot(page, "contact-cards-print");
  await page.close();
});
