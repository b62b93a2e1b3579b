/**
 * The report pages in a real browser: Debian's chromium (test/setup/install-chromium.sh) driven by
 * playwright-core. Checks that the pages load with no console errors and no network, that the charts and
 * table rows are there and drawn, and writes screenshots to .cache/screenshots/ for a human to look at.
 * In CI (CI=true) a missing chromium fails the test instead of skipping it.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRun } from '../../reports/read.ts';
import { compareReportFiles, runReportFiles } from '../../reports/report.ts';
import { sampleRunDir, tempDir } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SHOTS = fileURLToPath(new URL('../../.cache/screenshots/', import.meta.url));
const present = existsSync(CHROMIUM);
const inCI = process.env.CI === 'true';
const VARIANT = { 'workload.dirtyRateMiBps': 24, 'network.bandwidthMbps': 800 };

it.runIf(inCI && !present)('chromium is installed (CI)', () => {
  expect.fail(`${CHROMIUM} is missing: run test/setup/install-chromium.sh`);
});

describe.runIf(present)('report pages in headless chromium', () => {
  let ctx: BrowserContext;
  const pages: Record<string, string> = {};

  beforeAll(async () => {
    const out = tempDir();
    const write = (dir: string, files: Iterable<[string, string]>) => {
      mkdirSync(dir, { recursive: true });
      for (const [name, text] of files) writeFileSync(join(dir, name), text);
    };
    const tick = readRun(sampleRunDir('tick'));
    const iter = readRun(sampleRunDir('iteration'));
    // a second run of the scenario that differs the way a real one would: a busier guest, a slower link
    const other = readRun(sampleRunDir('tick', VARIANT));
    other.label = 'busier guest, 800 Mbit/s';
    write(join(out, 'tick'), runReportFiles(tick));
    write(join(out, 'iteration'), runReportFiles(iter));
    write(join(out, 'compare'), compareReportFiles(tick, other));
    pages.tick = join(out, 'tick', 'report.html');
    pages.iteration = join(out, 'iteration', 'report.html');
    pages.compare = join(out, 'compare', 'compare.html');
    mkdirSync(SHOTS, { recursive: true });
    ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'migscope-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1300, height: 900 },
    });
  });

  afterAll(async () => {
    await ctx?.close();
  });

  /** Open a page, failing on console errors, page errors and any request that leaves file://. */
  async function open(file: string): Promise<{ page: Page; problems: string[] }> {
    const page = await ctx.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
      problems.push(`network: ${url}`);
      return route.abort();
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    return { page, problems };
  }

  async function box(page: Page, selector: string) {
    const b = await page.locator(selector).first().boundingBox();
    expect(b, selector).not.toBeNull();
    return b!;
  }

  it('single run (tick granularity): summary, timeline with windows, both flame graphs', async () => {
    const { page, problems } = await open(pages.tick!);
    expect(await page.title()).toBe('migscope report: default-1gib-zipf');
    expect(await page.locator('table.summary tr').count()).toBeGreaterThan(15);
    expect((await box(page, 'svg#timeline')).width).toBeGreaterThan(800);
    expect(await page.locator('svg#timeline g.iteration').count()).toBeGreaterThan(100);
    expect(await page.locator('svg#timeline g.window').count()).toBeGreaterThan(100);
    expect(await page.locator('svg#timeline path.line').count()).toBe(2);
    for (const id of ['flame-time', 'flame-bytes']) {
      expect((await box(page, `svg#${id}`)).height).toBeGreaterThan(100);
      expect(await page.locator(`svg#${id} g.frame`).count()).toBeGreaterThan(10);
    }
    const rootTitle = await page.locator('svg#flame-time g.frame title').first().textContent();
    expect(rootTitle).toMatch(/^all\n13\.\d+ s \(100\.00%\)/);
    expect(await page.locator('#files a').count()).toBe(6);
    await page.screenshot({ path: join(SHOTS, 'report-tick.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('single run (iteration granularity)', async () => {
    const { page, problems } = await open(pages.iteration!);
    expect(await page.locator('svg#timeline g.window').count()).toBe(0);
    expect(await page.locator('svg#timeline g.iteration').count()).toBeGreaterThan(100);
    expect(await page.locator('svg#flame-time g.frame').count()).toBeGreaterThan(10);
    await page.screenshot({ path: join(SHOTS, 'report-iteration.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('comparison: error summary, overlaid timeline, differential flame graphs, iteration rows', async () => {
    const { page, problems } = await open(pages.compare!);
    expect(await page.locator('tr.metric-row').count()).toBe(8);
    const its = Math.max(
      readRun(sampleRunDir('tick')).result!.iterations.length,
      readRun(sampleRunDir('tick', VARIANT)).result!.iterations.length,
    );
    expect(await page.locator('tr.iteration-row').count()).toBe(its);
    expect(await page.locator('svg#timeline path.line.remaining').count()).toBe(2);
    for (const id of ['diff-time', 'diff-bytes']) {
      expect((await box(page, `svg#${id}`)).width).toBeGreaterThan(800);
      expect(await page.locator(`svg#${id} g.frame`).count()).toBeGreaterThan(10);
    }
    await page.screenshot({ path: join(SHOTS, 'compare.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
