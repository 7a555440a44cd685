import { expect, test } from '@playwright/test';
import { JIWOO, openOrder, refundWithConfirmation, signIn } from './helpers';

// PortOne's reference: smartro (the old module) needs refund_tel for virtual-account refunds;
// KCP refunds an earlier month's phone payment to an account ("휴대폰소액결제 익월 환불").
test('a smartro virtual-account refund asks for the holder\'s phone too', async ({ page }) => {
  await signIn(page, JIWOO);
  await openOrder(page, '수제 쿠키 선물세트');
  await expect(page.getByLabel('예금주 연락처')).toHaveAttribute('required', '');
  await page.getByLabel('환불 금액 (원)').fill('2000');
  await page.getByLabel('환불 사유').fill('선물 취소');
  await page.getByLabel('예금주', { exact: true }).fill('이지우');
  await page.getByLabel('은행').selectOption({ label: '신한은행' });
  await page.getByLabel('계좌번호').fill('110-123-456789');
  await page.getByLabel('예금주 연락처').fill('010-1234-5678');
  await refundWithConfirmation(page, '2,000원을 환불합니다');
  await expect(page.getByRole('status')).toContainText('2,000원이 환불되었습니다.');
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('KCP refunds last month\'s phone payment to a bank account', async ({ page }) => {
    await signIn(page, JIWOO);
    await openOrder(page, '전자책 정기구독');
    await expect(page.getByTestId('not-refundable')).toHaveCount(0);
    await expect(page.getByLabel('예금주 연락처')).toHaveCount(0);
    await page.getByLabel('환불 사유').fill('구독 해지');
    await page.getByLabel('예금주', { exact: true }).fill('이지우');
    await page.getByLabel('은행').selectOption({ label: '신한은행' });
    await page.getByLabel('계좌번호').fill('110-123-456789');
    await page.getByRole('button', { name: '환불하기' }).click();
    await expect(page.getByRole('status')).toContainText('12,900원이 환불되었습니다.');
  });
});
