// The dashboard in headless Chromium against a dev runtime with traffic: the page asks for the
// admin token, then shows health, the counts of a known workload, functions, endpoints with their
// error rates, partitions (with their event-time watermark), dead letters, and the request-response
// card after a few requests; a screenshot goes to test-results/dashboard.png.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'apache-flink-statefun';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { types } from '@continuum/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevRuntime, type DevRuntime } from '../../src/dev-runtime.js';
import { silentLogger } from '../../src/logger.js';
import { parseModule } from '../../src/module/index.js';
import { endpointDoc, readTopic, serveOnLoopback, sf, type LoopbackServer } from '../dev/support.js';
import { MAX_OUT_OF_ORDERNESS_MS, startEventTimeApp } from '../metrics/event-time-fixture.js';
import { OUT_TOPIC, sendText, serveOpsFunctions, type OpsFunctions } from '../metrics/ops-fixture.js';
import { waitUntil } from '@continuum/test-infra/wait-until';

const TOKEN = 'dashboard-token';
const COUNTER_MESSAGES = 30;
const PARTITIONS = 4;
const repoRoot = new URL('../../../', import.meta.url).pathname;
const screenshot = join(repoRoot, 'test-results', 'dashboard.png');

describe('dashboard in headless Chromium', () => {
  let fns: OpsFunctions;
  let answering: LoopbackServer;
  let requests: string;
  /** Releases the held request of `rr/hold`. */
  let release: (() => void) | undefined;
  let dev: DevRuntime;
  let admin: string;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    fns = await serveOpsFunctions();
    // Functions that answer their caller (an HTTP request), one of them only when released.
    const statefun = new sf.StateFun();
    const answer = (context: Context): void =>
      context.send(
        sf.messageBuilder({ typename: context.caller!.typename, id: context.caller!.id, value: 'ok' }),
      );
    statefun.bind({ typename: 'rr/echo', specs: [], fn: answer });
    statefun.bind({
      typename: 'rr/hold',
      specs: [],
      async fn(context) {
        await new Promise<void>((resolve) => (release = resolve));
        answer(context);
      },
    });
    const handle = statefun.handler();
    answering = await serveOnLoopback((req, res) => void handle(req, res));
    const requestIngress = [
      'kind: io.continuum.http.v1/ingress',
      'spec:',
      '  id: rr/requests',
      '  port: 0',
      '  defaultTimeout: 30s',
    ].join('\n');
    dev = await startDevRuntime({
      module: parseModule(
        [...fns.moduleDocs, endpointDoc('rr/*', answering.port), requestIngress].join('\n---\n'),
        'ops-module.yaml',
      ),
      partitions: PARTITIONS,
      adminPort: 0,
      adminToken: TOKEN,
      logger: silentLogger,
      task: { checkpointIntervalMs: 20 },
      metricsSampleIntervalMs: 250,
    });
    admin = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'admin')!.port}`;
    requests = `http://127.0.0.1:${dev.servers.find((s) => s.name === 'http ingress rr/requests')!.port}`;
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
    release?.();
    await dev?.stop();
    await fns?.close();
    await answering?.close();
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
    await waitUntil(() => fns.sunk.length === COUNTER_MESSAGES, {
      timeoutMs: 10_000,
      what: 'the sink to receive every message',
    });
    await waitUntil(async () => (await readTopic(dev.log, OUT_TOPIC)).length === COUNTER_MESSAGES, {
      timeoutMs: 10_000,
      what: 'the egress records',
    });
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

  it('after a handful of messages the latency chart has visible marks; calls are explained; the Kafka topics are listed', async () => {
    const marks = page.locator('#chart-latency path.series, #chart-latency path.mark');
    await page.waitForFunction(
      () => document.querySelectorAll('#chart-latency path.series, #chart-latency path.mark').length > 0,
      undefined,
      { timeout: 15_000 },
    );
    const styles = await marks.evaluateAll((els) =>
      els.map((e) => {
        const cs = getComputedStyle(e);
        return {
          stroke: cs.stroke,
          width: parseFloat(cs.strokeWidth),
          display: cs.display,
          d: e.getAttribute('d'),
        };
      }),
    );
    for (const st of styles) {
      expect(st.display).not.toBe('none');
      expect(st.width).toBeGreaterThan(1);
      expect(st.stroke).not.toBe('none');
      expect(st.d).toMatch(/^M[\d.]+ [\d.]+/);
    }
    for (const label of await page
      .locator('#chart-latency text.axis')
      .evaluateAll((els): (string | null)[] => els.map((e) => e.textContent as string | null))) {
      expect(label).toMatch(/^(0|[\d.]+ (ms|s|min|h)|\d\d:\d\d:\d\d)$/);
    }
    mkdirSync(join(repoRoot, 'test-results'), { recursive: true });
    await page
      .locator('#chart-latency')
      .screenshot({ path: join(repoRoot, 'test-results', 'latency-chart.png') });

    expect(await text('calls-note')).toContain('it carries a batch of invocations');
    expect(
      await page.locator('[data-testid="endpoints"] th', { hasText: 'calls' }).getAttribute('title'),
    ).toContain('batch of invocations');
    // The module's Kafka egress topic, written in the embedded log.
    const topicRow = page.locator('[data-testid="topics"] tbody tr', { hasText: OUT_TOPIC });
    await topicRow.waitFor({ timeout: 15_000 });
    const cells = await topicRow.locator('td').allInnerTexts();
    expect(cells.slice(0, 4)).toEqual([OUT_TOPIC, 'egress', '1', String(COUNTER_MESSAGES)]);
  });

  it('an isolated latency sample is drawn as a dot, and minutes-long latencies get readable axis labels', async () => {
    const res = await fetch(`${admin}/v1/overview`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const overview = (await res.json()) as { history: Record<string, unknown>[] };
    const t0 = Date.now() - 10_000;
    const empty = {
      ingress: 0,
      invocations: 0,
      egress: 0,
      deadLetters: 0,
      failures: 0,
      p50Ms: null,
      p99Ms: null,
    };
    overview.history = [
      { ...empty, t: t0 },
      { ...empty, t: t0 + 2000, invocations: 1, p50Ms: 90_000, p99Ms: 120_000 },
      { ...empty, t: t0 + 4000 },
      { ...empty, t: t0 + 6000 },
    ];
    const crafted = await context.newPage();
    try {
      await crafted.route('**/v1/overview', (route) =>
        route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(overview) }),
      );
      await crafted.goto(`${admin}/dashboard/`);
      await crafted.waitForFunction(
        () => document.querySelectorAll('#chart-latency path.mark').length === 2,
        undefined,
        {
          timeout: 15_000,
        },
      );
      expect(await crafted.locator('#chart-latency path.series').count()).toBe(0);
      const dots = await crafted.locator('#chart-latency path.mark').evaluateAll((els) =>
        els.map((e) => ({
          linecap: getComputedStyle(e).strokeLinecap,
          width: parseFloat(getComputedStyle(e).strokeWidth),
        })),
      );
      expect(dots).toEqual([
        { linecap: 'round', width: 7 },
        { linecap: 'round', width: 7 },
      ]);
      const labels = await crafted
        .locator('#chart-latency text.y-label')
        .evaluateAll((els): { text: string | null; left: number }[] =>
          els.map((e) => ({
            text: e.textContent as string | null,
            left: (e as unknown as { getBBox(): { x: number } }).getBBox().x,
          })),
        );
      expect(labels.map((l) => l.text)).toEqual(['0', '50 s', '1.67 min', '2.5 min', '3.33 min']);
      // Nothing is cut off at the left edge of the chart.
      for (const l of labels) expect(l.left).toBeGreaterThanOrEqual(0);
    } finally {
      await crafted.close();
    }
    expect(pageErrors).toEqual([]);
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
      // The last failed attempt is an HTTP 500, or on a busy machine a budget timeout.
      /calls to http:\/\/127\.0\.0\.1:\d+\/flaky fail: \d+ failed attempts? since .* \(last: (HTTP 500|no complete response)/,
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

  it('the request-response card shows requests, their latency, a timeout and a pending request', async () => {
    await page.goto(`${admin}/dashboard/`);
    await page.locator('[data-testid="requests-card"]').waitFor({ state: 'visible', timeout: 15_000 });
    const post = (path: string): Promise<Response> =>
      fetch(`${requests}${path}`, {
        method: 'POST',
        body: Buffer.from(types.string.serialize('x')),
        headers: { 'content-type': 'application/vnd.io.statefun.types/string' },
      });
    for (let i = 0; i < 3; i++) {
      const res = await post(`/v1/invoke/rr/echo/e${i}`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    // The sink does not answer: 202 after the request's timeout.
    const timedOut = await post('/v1/invoke/ops/sink/s-rr?timeout=200ms');
    expect(timedOut.status).toBe(202);
    await timedOut.arrayBuffer();
    // A request waiting for its reply is pending until the function answers.
    const held = post('/v1/invoke/rr/hold/h1');
    await waitUntil(() => release !== undefined, {
      timeoutMs: 10_000,
      what: 'the held request to reach its function',
    });
    await until('requests-pending', '1');
    release!();
    expect((await held).status).toBe(200);
    await until('requests-pending', '0');
    await until('requests-total', '5');
    await until('requests-timeouts', '1');
    expect(await text('requests-errors')).toBe('0 / 0');
    expect(await text('requests-retried')).toBe('0');
    expect(await text('requests-p50')).toMatch(/^[\d.,]+ (ms|s)$/);
    expect(await text('requests-p99')).toMatch(/^[\d.,]+ (ms|s)$/);
    expect(await text('requests-rate')).toMatch(/^\d+(\.\d+)?$/);
    expect(Number(await text('requests-rate'))).toBeGreaterThan(0);
    expect(await page.locator('#requests-timeouts-card').getAttribute('class')).toContain('alert');
    expect(pageErrors).toEqual([]);
    await page
      .locator('[data-testid="requests-card"]')
      .screenshot({ path: join(repoRoot, 'test-results', 'requests-card.png') });
  });
});
