import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DASHBOARD_DIR } from '../../platform/api/dashboard-routes.js';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { bothPainted, narrowestBar, readChart, turnTaking } from './dashboard-chart.js';
import { ENGINE_BUILT, startE2eServer, type E2eServer } from './e2e-server.js';
import { startTraffic, type Traffic } from './traffic.js';
import { letTimePass } from '../helpers/wait-for.js';

const CHROMIUM = '/usr/bin/chromium';
/** Where CI picks the screenshot up as an artifact. */
const SCREENSHOT = join('test', 'artifacts', 'dashboard.png');
/** The same page with the chart zoomed out to a minute. */
const SCREENSHOT_MINUTE = join('test', 'artifacts', 'dashboard-1min.png');
/** Flags for Debian's Chromium as root in a sandbox without network: no sandbox, no GPU, no phoning home. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const FUNCTIONS: readonly [string, string] = ['tiny-chat', 'tiny-qwen'];

const skipReason = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is absent (bash scripts/install-chromium.sh installs it)`
  : !ENGINE_BUILT
    ? 'the engine binary is not built (npm install builds it)'
    : undefined;
if (skipReason) console.log(`skip: dashboard browser test: ${skipReason}`);

// The dashboard in a real headless Chromium against a real control plane and CPU engine serving two
// functions under interleaved traffic: the Gantt chart must show, as drawn, both functions taking turns.
describe.skipIf(skipReason !== undefined)('dashboard in headless Chromium', () => {
  let server: E2eServer;
  let traffic: Traffic;
  let context: BrowserContext;
  let profileDir: string;
  let page: Page;
  let adminKey: string;
  let invokeKey: string;
  let trafficStartedAt = 0;

  beforeAll(async () => {
    // npm install builds the bundle; build it here too when a checkout skipped that step.
    if (!existsSync(join(DEFAULT_DASHBOARD_DIR, 'index.html'))) execFileSync(process.execPath, ['scripts/build-dashboard.mjs'], { stdio: 'inherit' });
    server = await startE2eServer({ requireEngine: true });
    const api = createApiClient({ baseUrl: server.url });
    for (const name of FUNCTIONS) await deployFunction(api, await prepareFunctionDir(`functions/${name}`, server.dataDir), { progress: false });
    // With keys in place the API is no longer open: the page has to ask for one.
    adminKey = (await server.plane.keys.create({ name: 'dashboard', scope: 'admin', functions: null, limits: {} })).key;
    invokeKey = (await server.plane.keys.create({ name: 'app', scope: 'invoke', functions: null, limits: {} })).key;
    trafficStartedAt = Date.now();
    traffic = startTraffic({ url: server.url, key: adminKey, functions: FUNCTIONS, workersPerFunction: 2, maxTokens: 24, maxMs: 150_000 });
    profileDir = await mkdtemp(join(tmpdir(), 'tidepool-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 1000 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await traffic?.stop();
    await context?.close();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
    await server?.close();
  });

  it('serves the page without a key and refuses its data routes without an admin key', async () => {
    const html = await fetch(`${server.url}/dashboard/`);
    expect(html.status).toBe(200);
    expect(await html.text()).toContain('<div id="app">');
    const anonymous = await fetch(`${server.url}/v1/ops/timeline`);
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();
    const refused = await fetch(`${server.url}/v1/ops/events`, { headers: { Authorization: `Bearer ${invokeKey}` } });
    expect(refused.status).toBe(403);
    await refused.body?.cancel();
    const bad = await fetch(`${server.url}/v1/ops/timeline?since=yesterday`, { headers: { Authorization: `Bearer ${adminKey}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('since');
  });

  it('asks for an admin key, refuses an invoke key, and goes live with an admin key', async () => {
    await page.goto(`${server.url}/dashboard`);
    await page.locator('form.key-form input[name=key]').fill(invokeKey);
    await page.locator('form.key-form button[type=submit]').click();
    await expect.poll(() => page.locator('form.key-form [role=alert]').textContent(), { timeout: 10_000 }).toMatch(/admin/);
    await page.locator('form.key-form input[name=key]').fill(adminKey);
    await page.locator('form.key-form button[type=submit]').click();
    await page.locator('[data-status=live]').waitFor({ timeout: 15_000 });
  });

  it('shows both functions taking turns: bars of both in their legend colours, alternating, with switches drawn', async () => {
    // The default window is the one where single token-level turns can be seen.
    expect(await page.locator('.window-picker button[aria-pressed=true]').textContent()).toBe('2 s');
    // What a person sees in one frame of the live chart: visible bars of both functions, A, B, A in time order.
    await expect.poll(async () => turnTaking(await page.evaluate(readChart), FUNCTIONS), { timeout: 90_000, interval: 500 }).toBe('ok');
    const chart = await page.evaluate(readChart);
    expect(chart.rows.map((row) => row.label)).toEqual(['cpu engine 0']);
    // Even the shortest turn is a bar a person can see, not a sliver.
    for (const name of FUNCTIONS) expect(narrowestBar(chart, name), `${name}'s narrowest bar, px`).toBeGreaterThanOrEqual(2);
    // Live: spans that end after this instant keep arriving without a reload.
    const newestEnd = () =>
      page.evaluate(() => Math.max(...[...document.querySelectorAll('[data-panel=timeline] [data-end]')].map((e) => Number(e.getAttribute('data-end')))));
    const before = await newestEnd();
    await expect.poll(newestEnd, { timeout: 30_000, interval: 500 }).toBeGreaterThan(before);
  }, 150_000);

  it('holds the chart still under the pointer and names the function, duration and tokens of the bar pointed at', async () => {
    const lane = (await page.locator('[data-panel=timeline] svg.gantt-lane').first().boundingBox())!;
    await page.mouse.move(lane.x + lane.width / 2, lane.y + 2);
    await page.locator('[data-panel=timeline] .paused').waitFor({ timeout: 5_000 });
    // A bar from the middle of the chart: spans reported meanwhile still fill in its right end.
    const bars = page.locator(`[data-panel=timeline] [data-kind=run][data-function="${FUNCTIONS[1]}"]`);
    const end = await bars.nth(Math.floor((await bars.count()) / 2)).getAttribute('data-end');
    const bar = page.locator(`[data-panel=timeline] [data-kind=run][data-function="${FUNCTIONS[1]}"][data-end="${end}"] > rect`);
    const at = (await bar.boundingBox())!;
    await letTimePass(400); // several redraws would have moved the bar
    expect((await bar.boundingBox())!.x, 'the bar moved while the pointer was on the chart').toBe(at.x);
    await page.mouse.move(at.x + at.width / 2, at.y + at.height / 2);
    await expect
      .poll(() => page.locator('[data-panel=timeline] [data-readout]').textContent(), { timeout: 5_000 })
      .toMatch(new RegExp(`^${FUNCTIONS[1]} ran [0-9.]+ ms, \\d+ tokens in \\d+ steps`));
    await page.mouse.move(5, 5);
    await page.locator('[data-panel=timeline] .paused').waitFor({ state: 'detached', timeout: 5_000 });
  });

  it('fills the function table, the memory bars and the invocation list', async () => {
    for (const name of FUNCTIONS) {
      const row = page.locator(`[data-panel=functions] tr[data-function="${name}"]`);
      await row.waitFor({ timeout: 15_000 });
      expect(await row.locator('.tier').textContent()).toMatch(/^(gpu|host|store)$/);
    }
    await expect.poll(() => page.locator('[data-panel=functions] tr[data-function="tiny-chat"] td').nth(4).textContent(), { timeout: 15_000 }).not.toBe('0');
    const weightsPercent = () =>
      page
        .locator('[data-panel=nodes] .membar-part.weights')
        .first()
        .evaluate((e) => parseFloat((e as HTMLElement).style.width));
    await expect.poll(weightsPercent, { timeout: 15_000 }).toBeGreaterThan(0);
    await page.locator('[data-panel=invocations] tr[data-invocation]').first().waitFor({ timeout: 15_000 });
    await mkdir(join('test', 'artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`dashboard screenshot: ${SCREENSHOT}; traffic so far ${JSON.stringify(Object.fromEntries(traffic.sent))}, ${traffic.failures.count} failed`);
  });

  it('still paints both functions in a 1 min window, where their turns are shorter than a pixel', async () => {
    await page.locator('.window-picker button', { hasText: '1 min' }).click();
    // Some 20 s of traffic make the minute readable.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, trafficStartedAt + 20_000 - Date.now())));
    await expect.poll(async () => bothPainted(await page.evaluate(readChart), FUNCTIONS), { timeout: 10_000, interval: 500 }).toBe('ok');
    await page.screenshot({ path: SCREENSHOT_MINUTE, fullPage: true });
    console.log(`dashboard screenshot: ${SCREENSHOT_MINUTE}`);
    expect(traffic.failures.count, traffic.failures.last).toBe(0);
  });
});
