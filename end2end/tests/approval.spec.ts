import { Browser, expect, Page, test } from '@playwright/test';
import { ADMIN, MINSU, openOrder, refundWithConfirmation, signIn } from './helpers';

// 환불 정책: refunds up to 30,000원 go straight; 민수's larger orders wait for an admin.
async function setPolicy(browser: Browser, maxAmount: string) {
  const page = await (await browser.newContext()).newPage();
  await signIn(page, ADMIN, /\/admin\/refunds/);
  await page.goto('/admin/settings');
  await page.getByLabel('자동 환불 한도 (원)').fill(maxAmount);
  await page.getByLabel('결제 후 기간 (일)').fill('');
  await page.getByRole('button', { name: '저장' }).click();
  const summary = maxAmount ? '30,000원 이하 · 기간 제한 없음' : '금액 제한 없음 · 기간 제한 없음';
  await expect(page.getByTestId('policy-summary')).toContainText(summary);
  await page.context().close();
}

async function adminOpens(browser: Browser, impUid: string): Promise<Page> {
  const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await signIn(page, ADMIN, /\/admin\/refunds/);
  await expect(page.getByTestId('waiting-requests')).toHaveText('승인 대기 1건');
  await page.goto(`/admin/find?q=${impUid}`);
  return page;
}

test.beforeEach(async ({ browser }) => setPolicy(browser, '30,000'));
// the other browser tests expect the default policy
test.afterEach(async ({ browser }) => setPolicy(browser, ''));

test('a refund beyond the policy waits as a request until an admin approves it', async ({ page, browser }) => {
  await signIn(page, MINSU);
  const uid = await openOrder(page, '기계식 블루투스 키보드');
  await page.getByLabel('환불 사유').fill('키 입력 불량');
  await refundWithConfirmation(page, '89,000원을 환불합니다');
  await expect(page.getByTestId('refund-requested')).toContainText('환불 요청이 접수되었습니다 — 검토 후 처리됩니다');
  await expect(page.getByTestId('held')).toHaveText('89,000원');
  await expect(page.getByTestId('cancel-amount')).toHaveText('0원');
  await page.goto('/orders');
  await expect(page.locator('tr', { hasText: '기계식 블루투스 키보드' })).toContainText('환불 검토 중');

  const admin = await adminOpens(browser, 'imp_demo0016');
  await expect(admin.getByRole('heading', { name: '기계식 블루투스 키보드' })).toBeVisible();
  await expect(admin.locator('ol.timeline > li')).toContainText('승인 대기');
  await expect(admin.locator('ol.timeline > li')).toContainText('사유: 키 입력 불량');
  await admin.getByRole('button', { name: '승인' }).click();
  await expect(admin.getByTestId('admin-cancel-amount')).toHaveText('89,000원');
  await expect(admin.locator('ol.timeline [data-kind="approved"]')).toHaveText('승인');

  await page.goto(`/orders/${uid}`);
  await expect(page.getByRole('status')).toContainText('89,000원이 환불되었습니다.');
  await expect(page.getByTestId('cancel-amount')).toHaveText('89,000원');
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a rejected request shows the customer why; a request can be withdrawn', async ({ page, browser }) => {
    await signIn(page, MINSU);
    const uid = await openOrder(page, 'LED 스탠드 조명');
    await page.getByLabel('환불 사유').fill('단순 변심');
    await page.getByRole('button', { name: '환불하기' }).click();
    await expect(page.getByTestId('refund-requested')).toContainText('검토 후 처리됩니다');

    const admin = await adminOpens(browser, 'imp_demo0017');
    await admin.getByLabel('거절 사유').fill('개봉 후 7일이 지나 환불할 수 없습니다');
    await admin.getByRole('button', { name: '거절' }).click();
    await expect(admin.locator('ol.timeline > li')).toContainText('요청 거절');

    await page.goto(`/orders/${uid}`);
    await expect(page.getByRole('alert')).toContainText('45,000원 환불 요청이 거절되었습니다.');
    await expect(page.getByRole('alert')).toContainText('사유: 개봉 후 7일이 지나 환불할 수 없습니다');

    // asked again, then taken back by the customer
    await page.getByLabel('환불 사유').fill('다시 요청합니다');
    await page.getByRole('button', { name: '환불하기' }).click();
    await expect(page.getByTestId('refund-requested')).toBeVisible();
    await page.getByRole('button', { name: '요청 철회' }).click();
    await expect(page.getByRole('status')).toContainText('45,000원 환불 요청을 철회했습니다.');
    await expect(page.getByTestId('cancel-amount')).toHaveText('0원');
  });
});
