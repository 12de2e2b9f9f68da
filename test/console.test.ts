import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { freeDemoPort, spawnDemo, type Demo } from './support/weft-server';

// The web console (issue 13) in a real headless browser (Debian's chromium, driven by
// puppeteer-core) against a real cluster: it shows the cluster, its charts move under load, and
// its Cancel button cancels a session's running statement.
jest.setTimeout(180_000);

const CHROMIUM = process.env.WEFT_TEST_CHROMIUM ?? '/usr/bin/chromium';

type Series = Record<'qps' | 'p50' | 'p99' | 'commits' | 'aborts' | 'lag', (number | null)[]>;

// Code run in the page is passed as strings: the project compiles without the DOM library.
const SHARDS_SHOWN = `(() => {
  const rows = [...document.querySelectorAll('#shards tbody tr')];
  return rows.length === 4 && rows.every((r) => /node \\d/.test(r.children[1].textContent) && r.children[2].textContent.startsWith('yes (3/3)'));
})()`;
const CANVAS_INK = `(() => {
  const c = document.getElementById('chart-qps');
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) ink++;
  return ink;
})()`;
const rowWith = (text: string): string => `[...document.querySelectorAll('#sessions tbody tr')].find((r) => r.textContent.includes(${JSON.stringify(text)}))`;

describe('web console at /console', () => {
  let demo: Demo;
  let dir: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'weft-console-'));
    demo = await spawnDemo({ dataDir: dir, pgPort: await freeDemoPort() });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const connect = async (): Promise<Client> => {
    const c = new Client({ host: '127.0.0.1', port: demo.pgPort, user: 'weft', database: 'weft', application_name: 'console-test' });
    await c.connect();
    return c;
  };

  it('shows every shard with its leaseholder and quorum, and the charts move under load', async () => {
    const gw = demo.state()?.services.find((s) => s.name === 'gateway');
    expect(gw).toBeDefined();
    const res = await page.goto(`http://127.0.0.1:${gw?.httpPort}/console`);
    expect(res?.status()).toBe(200);
    expect(await page.title()).toBe('Weft console');
    await page.waitForFunction(SHARDS_SHOWN, { timeout: 60_000 });

    const c = await connect();
    try {
      await c.query('CREATE TABLE load (id int PRIMARY KEY, v int)');
      const before = (await page.evaluate('window.weftConsole.polls')) as number;
      const until = Date.now() + 5000;
      for (let i = 1; Date.now() < until; i++) await c.query('INSERT INTO load VALUES ($1, $1)', [i]);
      // At least two polls saw the load: statements/s and commits/s above zero, p99 measured.
      await page.waitForFunction(`window.weftConsole.polls >= ${before + 2}`, { timeout: 10_000 });
      const s = (await page.evaluate('window.weftConsole.series')) as Series;
      expect(Math.max(...s.qps.map((v) => v ?? 0))).toBeGreaterThan(1);
      expect(Math.max(...s.commits.map((v) => v ?? 0))).toBeGreaterThan(1);
      expect(s.p99.some((v) => v !== null && v > 0)).toBe(true);
      expect(s.lag.some((v) => v !== null)).toBe(true);
      // The charts were drawn (a line is not the blank canvas) and the numbers shown.
      expect((await page.evaluate(CANVAS_INK)) as number).toBeGreaterThan(100);
      expect((await page.evaluate(`document.querySelector('#slowest tbody').textContent`)) as string).toContain('INSERT INTO load');
    } finally {
      await c.end();
    }
  });

  it('lists active sessions, and Cancel cancels the running statement (57014)', async () => {
    const holder = await connect();
    const waiter = await connect();
    try {
      await holder.query('CREATE TABLE locked (id int PRIMARY KEY, v int)');
      await holder.query('INSERT INTO locked VALUES (1, 0)');
      await holder.query('BEGIN');
      await holder.query('UPDATE locked SET v = 1 WHERE id = 1');
      // The waiter queues behind the holder's row lock until cancelled.
      const waiting = waiter.query('UPDATE locked SET v = 2 WHERE id = 1').then(
        () => 'committed',
        (e: { code?: string }) => e.code ?? 'error',
      );
      await page.waitForFunction(`!!${rowWith('SET v = 2')}?.querySelector('button[data-cancel]')`, { timeout: 20_000 });
      await page.evaluate(`${rowWith('SET v = 2')}.querySelector('button[data-cancel]').click()`);
      expect(await waiting).toBe('57014');
      await holder.query('COMMIT');
      expect((await waiter.query('SELECT v FROM locked WHERE id = 1')).rows).toEqual([{ v: 1 }]);
    } finally {
      await holder.end();
      await waiter.end();
    }
  });
});
