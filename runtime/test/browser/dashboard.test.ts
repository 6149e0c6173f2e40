// The dashboard in headless Chromium against a dev runtime with traffic: the page asks for the
// admin token, then shows health, the counts of a known workload, functions, endpoints with their
// error rates, partitions (with their event-time watermark) and dead letters; a screenshot goes to
// test-results/dashboard.png.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { readTopic, waitFor } from '../dev/support.js';
import { MAX_OUT_OF_ORDERNESS_MS, startEventTimeApp } from '../metrics/event-time-fixture.js';
import { OUT_TOPIC, sendText, serveOpsFunctions, type OpsFunctions } from '../metrics/ops-fixture.js';

const TOKEN = 'dashboard-token';
const COUNTER_MESSAGES = 30;
const PARTITIONS = 4;
const repoRoot = new URL('../../../', import.meta.url).pathname;
const screenshot = join(repoRoot, 'test-results', 'dashboard.png');

describe('dashboard in headless Chromium', () => {
  let fns: OpsFunctions;
  let dev: DevRuntime;
  let admin: string;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    fns = await serveOpsFunctions();
    dev = await startDevRuntime({
      module: parseModule(fns.moduleDocs.join('\n---\n'), 'ops-module.yaml'),
      partitions: PARTITIONS,
      adminPort: 0,
      adminToken: TOKEN,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
      metricsSampleIntervalMs: 250,
    });
    admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
    profile = mkdtempSync(join(tmpdir(), 'continuum-dashboard-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1500, height: 1100 },
      timeout: 30_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().includes('401')) pageErrors.push(m.text());
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
    await dev?.stop();
    await fns?.close();
  });

  const text = (testId: string): Promise<string> =>
    page.locator(`[data-testid="${testId}"]`).first().innerText({ timeout: 5000 });
  const until = async (testId: string, expected: string): Promise<void> => {
    await page.waitForFunction(
      ([id, want]) => document.querySelector(`[data-testid="${id}"]`)?.textContent?.trim() === want,
      [testId, expected] as const,
      { timeout: 15_000 },
    );
  };

  it('asks for the admin token, then shows a healthy runtime with the counts of its traffic', async () => {
    await page.goto(`${admin}/dashboard/`);
    await page.locator('#token-form').waitFor({ state: 'visible', timeout: 10_000 });
    for (let i = 0; i < COUNTER_MESSAGES; i++) await sendText(admin, `ops/counter/c${i % 6}`, `n${i}`, TOKEN);
    await waitFor(() => fns.sunk.length === COUNTER_MESSAGES, 'the sink to receive every message');
    await waitFor(
      async () => (await readTopic(dev.log, OUT_TOPIC)).length === COUNTER_MESSAGES,
      'the egress records',
    );
    await page.fill('#token', TOKEN);
    await page.click('#token-form button');
    await until('kpi-invocations-total', String(COUNTER_MESSAGES * 2));
    await until('kpi-ingress-total', String(COUNTER_MESSAGES));
    await until('kpi-egress-total', String(COUNTER_MESSAGES));
    await until('status', 'Healthy');
    expect(await text('kpi-dead')).toBe('0');
    expect(await text('problems')).toContain('No problems');
    const counterRow = page.locator('[data-testid="functions"] tr', { hasText: 'ops/counter' });
    expect(await counterRow.locator('td').nth(1).innerText()).toBe(String(COUNTER_MESSAGES));
    expect(await counterRow.locator('td').nth(3).innerText()).toBe('0 %');
    expect(await page.locator('[data-testid="partitions"] tbody tr').count()).toBe(PARTITIONS);
    // The cluster card: this one process, owning every partition.
    expect(await page.locator('[data-testid="cluster"] tbody tr').count()).toBe(1);
    expect(await page.locator('[data-testid="cluster"] tbody tr td').nth(2).innerText()).toBe(
      String(PARTITIONS),
    );
    expect(await text('cluster-note')).toBe('every partition has one owner');
  });

  it('shows failing endpoints with their error rate and reason, dead letters by code, and lag', async () => {
    fns.flakyBroken.on = true;
    await sendText(admin, 'ops/flaky/f1', 'first failure', TOKEN);
    await sendText(admin, 'ops/flaky/f2', 'second failure', TOKEN);
    await sendText(admin, 'nobody/home/h1', 'nobody reads this', TOKEN);
    await until('kpi-dead', '3');
    await until('kpi-failed', '2');
    const status = await text('status');
    expect(['Degraded', 'Failing']).toContain(status);
    expect(await text('problems')).toMatch(
      /calls to http:\/\/127\.0\.0\.1:\d+\/flaky are failing \(FUNCTION_CALL_FAILED\)/,
    );

    const flakyRow = page.locator('[data-testid="endpoints"] tr', { hasText: '/flaky' });
    const cells = flakyRow.locator('td');
    expect(await cells.nth(1).innerText()).toBe('2');
    expect(await cells.nth(2).innerText()).toBe('2');
    expect(await cells.nth(3).innerText()).toBe('100 %');
    // The reason names the failed call; whether its last attempt ended in an HTTP 500 or was cut
    // by the 300 ms call budget depends on the machine's load, so the status is not asserted.
    const lastError = await cells.nth(4).innerText();
    expect(lastError).toContain('FUNCTION_CALL_FAILED');
    expect(lastError).toContain('ops/flaky');

    const codes = await text('dead-codes');
    expect(codes).toContain('FUNCTION_CALL_FAILED × 2');
    expect(codes).toContain('FUNCTION_UNKNOWN × 1');
    const letters = page.locator('[data-testid="dead-letters"] tbody tr');
    expect(await letters.count()).toBe(3);
    const rows = (await letters.allInnerTexts()).join('\n');
    for (const target of ['ops/flaky/f1', 'ops/flaky/f2', 'nobody/home/h1']) expect(rows).toContain(target);
    // Newest first: the unknown function failed at once, the flaky calls only after their budget.
    expect(await letters.last().innerText()).toContain('nobody/home/h1');

    // Lag and throughput are drawn from the same numbers the API returns.
    await until('kpi-lag', '0');
    expect(await page.locator('#chart-throughput path').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#chart-latency path').count()).toBeGreaterThanOrEqual(1);
    expect(pageErrors).toEqual([]);

    mkdirSync(join(repoRoot, 'test-results'), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
  });

  it("shows each partition's event-time watermark, and none where there is no event-time source", async () => {
    const header = await page.locator('[data-testid="partitions"] thead').innerText();
    expect(header).toContain('watermark');
    // This module has no ingress that announces event time: no watermark.
    const watermarkCells = page.locator('[data-testid="partitions"] tbody tr td:nth-child(7)');
    expect(await watermarkCells.allInnerTexts()).toEqual(Array.from({ length: PARTITIONS }, () => '–'));

    const app = await startEventTimeApp({ partitions: 2 });
    const second = await context.newPage();
    try {
      await app.ingest('k', 1_700_000_030_500);
      const watermark = new Date(1_700_000_030_500 - MAX_OUT_OF_ORDERNESS_MS).toISOString();
      await second.goto(`${app.admin}/dashboard/`);
      await second.waitForFunction(
        (iso) => {
          const cells = document.querySelectorAll('[data-testid="partitions"] tbody tr td:nth-child(7)');
          return cells.length === 2 && [...cells].every((c) => (c as HTMLElement).title.startsWith(iso));
        },
        watermark,
        { timeout: 15_000 },
      );
      const shown = await second
        .locator('[data-testid="partitions"] tbody tr td:nth-child(7)')
        .allInnerTexts();
      // The date (it is not today) and the time of day in the browser's zone.
      for (const text of shown) expect(text).toMatch(/^2023-11-1[45] \d\d:\d\d:\d\d$/);
    } finally {
      await second.close();
      await app.close();
    }
    expect(pageErrors).toEqual([]);
  });
});
