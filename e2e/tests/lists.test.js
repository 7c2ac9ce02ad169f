// The lists in a real browser: the street admin redraws a corner of the map and finds the old
// shape in the history; a community worker keeps the roster by hand and from a file; the street
// admin adds a key-population tag.
"use strict";
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { useWeige, login, screenshot } = require("./harness");

const MICRO = "510115001001001001";
const env = useWeige();

test("the street admin drags a shared corner, saves, and the old shape stays in the history", async () => {
  const page = await env.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await login(page, env.weige.url, "admin");
  await page.goto(`${env.weige.url}/map?scope=510115001001001`);
  await page.waitForSelector("#map[data-ready='1']");
  // A corner of the micro-grid shared by more than two cells (inside the grid), in pixels, and
  // the middle of the cell to click.
  const at = await page.evaluate((code) => {
    const el = document.getElementById("map");
    const { map, layers } = el.weige;
    const cells = layers.micro_grid.getLayers();
    const cell = cells.find((l) => l.feature.properties.code === code);
    const ring = cell.feature.geometry.coordinates[0];
    const shared = (c) =>
      cells.filter((l) => l.feature.geometry.coordinates[0].some((v) => v[0] === c[0] && v[1] === c[1])).length;
    const corner = ring.find((c) => shared(c) > 2);
    const box = el.getBoundingClientRect();
    const px = (lat, lng) => {
      const p = map.latLngToContainerPoint([lat, lng]);
      return { x: box.left + p.x, y: box.top + p.y };
    };
    const mid = cell.getBounds().getCenter();
    return { corner: px(corner[1], corner[0]), middle: px(mid.lat, mid.lng) };
  }, MICRO);
  await page.mouse.click(at.middle.x, at.middle.y);
  await page.waitForSelector("#edit-shape");
  await page.click("#edit-shape");
  await page.waitForSelector(".vertex-handle");
  await page.mouse.move(at.corner.x, at.corner.y);
  await page.mouse.down();
  await page.mouse.move(at.corner.x + 6, at.corner.y + 4, { steps: 5 });
  await page.mouse.up();
  await page.waitForSelector("#map[data-changed]");
  const changed = Number(await page.getAttribute("#map", "data-changed"));
  assert.ok(changed > 2, `the corner moved in ${changed} cells`);
  await page.click("#save-shape");
  await page.waitForSelector("[data-testid=shape-saved]");
  await screenshot(page, "map-edited");

  await page.goto(`${env.weige.url}/grid/history?code=${MICRO}`);
  await page.waitForSelector("#history-map[data-ready='1']");
  assert.equal(await page.locator("[data-testid=version]").count(), 2, "the old shape and the new one");
  assert.match(await page.textContent(".history"), /现行/);
  await page.click("[data-show-version='0']");
  assert.equal(await page.getAttribute("#history-map", "data-shown"), "0");
  await screenshot(page, "shape-history");
  await page.close();
});

test("a community worker adds a building head by hand and a grid worker from a file", async () => {
  const page = await env.browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await login(page, env.weige.url, "community");
  await page.goto(`${env.weige.url}/roster?scope=510115001001001`);
  assert.ok((await page.locator("[data-testid=staff]").count()) >= 16, "the demo grid's roster is listed");
  await page.click("summary >> text=添加人员");
  await page.fill("#r-node", MICRO);
  await page.selectOption("#r-duty", "building_head");
  await page.fill("#r-name", "测试楼长");
  await page.fill("#r-phone", "13988887777");
  await page.check("input[name=party_member]");
  await Promise.all([page.waitForLoadState("load"), page.click("[data-testid=roster-add] button[type=submit]")]);
  assert.match(await page.textContent(".flash.ok"), /成功|完成|已/);
  assert.match(await page.textContent("table"), /测试楼长/);

  const csv = "网格编码,职责,姓名,电话,党员,任职时间,培训情况,楼栋,账号\n510115001001001,兼职网格员,文件导入员,13977776666,否,2025-03-01,岗前培训,,\n";
  await page.setInputFiles("form[data-upload] input[type=file]", { name: "roster.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.click("form[data-upload] button[type=submit]");
  await page.waitForSelector("[data-testid=upload-ok]");
  // A bad file is refused with the row and the field named, and nothing is imported.
  const bad = "网格编码,职责,姓名,电话,党员,任职时间,培训情况,楼栋,账号\n510115001001001,网管,坏行,1,否,,,,\n";
  await page.setInputFiles("form[data-upload] input[type=file]", { name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from(bad) });
  await page.click("form[data-upload] button[type=submit]");
  await page.waitForSelector("[data-testid=upload-err]");
  assert.match(await page.textContent("[data-testid=upload-err]"), /第 2 行 职责/);
  await page.reload();
  const text = await page.textContent("table");
  assert.match(text, /文件导入员/);
  assert.doesNotMatch(text, /坏行/);
  await screenshot(page, "roster-phone");
  await page.close();
});

test("the street admin adds a key-population tag and the registry offers it", async () => {
  const page = await env.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await login(page, env.weige.url, "admin");
  await page.click("nav >> text=重点人群标签");
  await page.fill("#t-code", "bereaved_parents");
  await page.fill("#t-zh", "失独家庭");
  await page.fill("#t-en", "Bereaved parents");
  await Promise.all([page.waitForLoadState("load"), page.click("[data-testid=tag-add] button[type=submit]")]);
  assert.equal(await page.locator("[data-testid=tag][data-code=bereaved_parents]").count(), 1);
  await page.goto(`${env.weige.url}/registry?scope=510115001001001`);
  assert.equal(await page.locator("#tag option[value=bereaved_parents]").count(), 1);
  await page.close();
});
