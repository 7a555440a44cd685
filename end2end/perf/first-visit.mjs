// A customer's first visit to an order page on a slow mobile link, cold cache: the bytes the
// browser transfers and the time until 환불하기 works (the refund island has hydrated).
// Run by scripts/bench-first-visit.sh against a release build; prints one JSON line per run.
import { chromium } from '@playwright/test';

const base = process.env.BASE_URL ?? 'http://127.0.0.1:3198';
const runs = Number(process.env.RUNS ?? 5);
const launch = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
};
// Chrome DevTools' own "Slow 4G"-like profile the issue names: 1.6 Mbps down, 150 ms RTT.
const link = { offline: false, latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 750e3 / 8 };

const browser = await chromium.launch(launch);
// Sign in once, unthrottled, and find the order; only the session cookie crosses over.
const setup = await browser.newContext({ locale: 'ko-KR' });
const page0 = await setup.newPage();
await page0.goto(`${base}/login`);
await page0.getByLabel('이메일').fill('minsu@example.com');
await page0.getByLabel('비밀번호', { exact: true }).fill('minsu-pass-1234');
await page0.getByRole('button', { name: '로그인' }).click();
await page0.waitForURL(/\/orders$/);
const uid = await page0.locator('tr', { hasText: '유기농 현미 5kg' }).getAttribute('data-merchant-uid');
const cookies = await setup.cookies();
await setup.close();

for (let i = 0; i < runs; i++) {
  const context = await browser.newContext({ locale: 'ko-KR' }); // a fresh, empty HTTP cache
  await context.addCookies(cookies);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', link);
  let bytes = 0;
  const requests = [];
  cdp.on('Network.responseReceived', (e) => requests.push({ url: e.response.url, encoding: e.response.headers['content-encoding'] ?? '' }));
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  const started = Date.now();
  await page.goto(`${base}/orders/${uid}`);
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached', timeout: 60_000 });
  const interactiveMs = Date.now() - started;
  await page.waitForLoadState('networkidle');
  console.log(JSON.stringify({ run: i + 1, bytes, interactiveMs, requests }));
  await context.close();
}
await browser.close();
