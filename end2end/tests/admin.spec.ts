import { expect, test } from '@playwright/test';
import * as fs from 'fs';
import { ADMIN, hydrated, MINSU, refundWithConfirmation, signIn, SIM_URL } from './helpers';

test.beforeEach(async ({ page }) => {
  await signIn(page, ADMIN, /\/admin\/refunds$/);
});

test('admin filters by status and date, and pages forward and back', async ({ page }) => {
  const rows = page.locator('table.admin-refunds tbody tr');
  await expect(rows.first()).toBeVisible();
  await page.getByLabel('상태').selectOption('failed');
  const today = new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);
  const monthAgo = new Date(Date.now() + 9 * 3600_000 - 30 * 86400_000).toISOString().slice(0, 10);
  await page.getByLabel('시작일').fill(monthAgo);
  await page.getByLabel('종료일').fill(today);
  await page.getByLabel('페이지 크기').selectOption('20');
  await page.getByRole('button', { name: '조회' }).click();
  await expect(page).toHaveURL(/status=failed/);
  await expect(page).toHaveURL(new RegExp(`from=${monthAgo}`));
  await expect(rows).toHaveCount(20);
  for (const badge of await rows.locator('td:nth-child(7)').allTextContents()) expect(badge).toBe('실패');

  const firstOnPage1 = await rows.first().getAttribute('data-refund-id');
  await page.getByRole('link', { name: '다음 →' }).click();
  await expect(page).toHaveURL(/after=/);
  await expect(rows.first()).not.toHaveAttribute('data-refund-id', firstOnPage1!);
  const firstOnPage2 = await rows.first().getAttribute('data-refund-id');
  await page.getByRole('link', { name: '← 이전' }).click();
  await expect(rows.first()).toHaveAttribute('data-refund-id', firstOnPage1!);
  await page.goBack();
  await expect(rows.first()).toHaveAttribute('data-refund-id', firstOnPage2!);
  // totals and the chart describe the filter
  await expect(page.locator('.totals [data-status="failed"]')).toBeVisible();
  await expect(page.locator('.totals [data-status="succeeded"]')).toHaveCount(0);
  await expect(page.getByRole('img', { name: '일별 환불 금액' })).toBeVisible();
});

test('admin opens a timeline and refunds on behalf of a customer', async ({ page }) => {
  await page.getByLabel('주문 찾기').fill('imp_demo0010');
  await page.getByRole('button', { name: '찾기' }).click();
  await expect(page.getByRole('heading', { name: '기프트카드 3만원권' })).toBeVisible();
  await page.getByLabel('환불 금액 (원)').fill('5000');
  await page.getByLabel('환불 사유').fill('고객센터 전화 요청');
  await refundWithConfirmation(page, '5,000원을 환불합니다');
  await expect(page.getByRole('status').filter({ hasText: '5,000원이 환불되었습니다.' })).toBeVisible();
  await expect(page.getByTestId('admin-cancel-amount')).toHaveText('5,000원');
  await expect(page.locator('ol.timeline > li')).toContainText('관리자 관리자');
  await expect(page.locator('table.cancellations')).toContainText('이 서비스의 환불');
});

test('a console cancel at PortOne shows up after a re-sync, marked as outside the service', async ({ page, request }) => {
  const res = await request.post(`${SIM_URL}/__sim/payments/imp_demo0009/cancel`, { data: { amount: 10000, reason: '콘솔에서 부분 취소' } });
  expect(res.ok()).toBeTruthy();
  await page.goto('/admin/find?q=imp_demo0009');
  await expect(page.getByRole('heading', { name: '캠핑 텐트 4인용' })).toBeVisible();
  await hydrated(page);
  await page.getByRole('button', { name: 'PortOne과 동기화' }).click();
  await expect(page.getByText(/^동기화했습니다/)).toBeVisible();
  await expect(page.locator('table.cancellations')).toContainText('서비스 외부에서 취소됨 (PortOne 콘솔)');
  await expect(page.locator('table.cancellations')).toContainText('콘솔에서 부분 취소');
  await expect(page.getByTestId('admin-cancel-amount')).toHaveText('10,000원');
});

test('admin downloads the filtered refunds as CSV', async ({ page }) => {
  await page.goto('/admin/refunds?status=succeeded&requester=admin');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'CSV 내려받기' }).click(),
  ]);
  const bytes = fs.readFileSync(await download.path());
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  const lines = bytes.subarray(3).toString('utf8').trim().split('\r\n');
  expect(lines[0]).toContain('요청 일시(KST),주문번호');
  expect(lines.length).toBeGreaterThan(5);
  for (const line of lines.slice(1)) expect(line).toContain(',성공,관리자,');
});

test('customers cannot open admin pages', async ({ browser }) => {
  const page = await (await browser.newContext()).newPage();
  await signIn(page, MINSU);
  const res = await page.goto('/admin/refunds');
  expect(res?.status()).toBe(404);
});
