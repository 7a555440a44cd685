import { expect, test } from '@playwright/test';
import { ADMIN, JIWOO, openOrder, refundWithConfirmation, signIn } from './helpers';

// 제철 과일 선물세트 (demo order 15): 48,000원 on KCP, 30,000원 of it tax-free (the fruit).
test('a partial refund of a tax-free order takes its 면세 part and 부가세 in proportion', async ({ page }) => {
  await signIn(page, JIWOO);
  await openOrder(page, '제철 과일 선물세트');
  await expect(page.getByTestId('tax-split')).toHaveText('과세 16,364원 · 면세 30,000원 · 부가세 1,636원');
  await page.getByLabel('환불 금액 (원)').fill('12000');
  await page.getByLabel('환불 사유').fill('과일 일부 상함');
  // customers do not name the parts; they are worked out
  await expect(page.getByLabel('면세 금액 (원)')).toHaveCount(0);
  await refundWithConfirmation(page, '12,000원을 환불합니다');
  await expect(page.getByRole('status')).toContainText('12,000원이 환불되었습니다.');
  // a quarter of each part: 7,500 tax-free, 409 VAT
  await expect(page.getByTestId('tax-left')).toHaveText('과세 12,273원 · 면세 22,500원 · 부가세 1,227원');
  await expect(page.locator('table.refunds')).toContainText('7,500원 / 409원');
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('an admin names the tax-free part of a refund on the timeline', async ({ page }) => {
    await signIn(page, ADMIN, /\/admin\/refunds/);
    await page.goto('/admin/find?q=imp_demo0015');
    await expect(page.getByRole('heading', { name: '제철 과일 선물세트' })).toBeVisible();
    await page.getByLabel('환불 금액 (원)').fill('10000');
    await page.getByLabel('환불 사유').fill('과일만 반품');
    await page.getByLabel('면세 금액 (원)').fill('10,000');
    await page.getByLabel('부가세 (원)').fill('0');
    await page.getByRole('button', { name: '환불하기' }).click();
    await expect(page.getByRole('status').filter({ hasText: '10,000원이 환불되었습니다.' })).toBeVisible();
    await expect(page.getByTestId('refund-tax').last()).toHaveText('과세 0원 · 면세 10,000원 · 부가세 0원');
    await expect(page.getByTestId('admin-tax-left')).toHaveText('과세 12,273원 · 면세 12,500원 · 부가세 1,227원');
  });
});
