import { expect, test } from '@playwright/test';
import { ADMIN, MINSU, openOrder, refundWithConfirmation, signIn } from './helpers';

// The demo's V2 orders (PortOne V2 beside V1): refunded through the same form, the V2
// virtual-account refund accepted by its PG (환불 접수됨) and not reported returned before.

test('민수 refunds a PortOne V2 card order through the same form', async ({ page }) => {
  await signIn(page, MINSU);
  await openOrder(page, '접이식 캠핑 의자');
  await expect(page.getByTestId('api-version')).toHaveText('PortOne V2');
  await page.getByLabel('환불 금액 (원)').fill('7000');
  await page.getByLabel('환불 사유').fill('팔걸이 흠집');
  await refundWithConfirmation(page, '7,000원을 환불합니다');
  await expect(page.getByRole('status')).toContainText('7,000원이 환불되었습니다.');
  await expect(page.getByTestId('refundable')).toHaveText('20,000원');
  await page.reload();
  await expect(page.locator('table.refunds tbody tr [data-state="succeeded"]')).toHaveCount(1);
});

test('a V2 virtual-account refund is 환불 접수됨 until its PG applies it', async ({ page }) => {
  await signIn(page, MINSU);
  await openOrder(page, '원목 캠핑 테이블');
  const bank = page.getByLabel('은행');
  // V2 takes its own bank names whatever the PG: the form offers the KFTC codes
  await expect(bank.locator('option', { hasText: '신한은행' })).toHaveAttribute('value', '088');
  await page.getByLabel('환불 금액 (원)').fill('20000');
  await page.getByLabel('환불 사유').fill('색상 변경');
  await page.getByLabel('예금주', { exact: true }).fill('김민수');
  await bank.selectOption('088');
  await page.getByLabel('계좌번호').fill('562-111-0594-8400');
  await refundWithConfirmation(page, '20,000원을 환불합니다');
  await expect(page.getByTestId('refund-accepted')).toContainText('환불 접수됨 (20,000원)');
  await page.reload();
  // nothing is reported returned yet; the line says it was accepted
  await expect(page.getByTestId('cancel-amount')).toHaveText('0원');
  await expect(page.locator('table.refunds tbody tr [data-state="requested"]')).toHaveText('환불 접수됨');
  await expect(page.getByRole('button', { name: '환불하기' })).toHaveCount(0);
});

test('환불 내역 filters by PortOne version', async ({ page }) => {
  await signIn(page, ADMIN, /\/admin\/refunds/);
  await page.getByLabel('PortOne 버전').selectOption('v2');
  await page.getByRole('button', { name: '조회' }).click();
  await expect(page).toHaveURL(/version=v2/);
  const versions = page.getByTestId('row-version');
  await expect(versions.first()).toHaveText('PortOne V2');
  for (const text of await versions.allTextContents()) {
    expect(text).toBe('PortOne V2');
  }
});
