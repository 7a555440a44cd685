import { expect, test } from '@playwright/test';
import { hydrated, JIWOO, MINSU, openOrder, refundWithConfirmation, signIn } from './helpers';

test('민수 refunds part of a card order, then the rest', async ({ page }) => {
  await signIn(page, MINSU);
  await openOrder(page, '무선 블루투스 이어폰');
  await expect(page.getByLabel('환불 금액 (원)')).toHaveValue('39000');
  await page.getByLabel('환불 금액 (원)').fill('9000');
  await page.getByLabel('환불 사유').fill('한쪽 이어폰 불량');
  await refundWithConfirmation(page, '9,000원을 환불합니다');
  await expect(page.getByRole('status')).toContainText('9,000원이 환불되었습니다.');
  await expect(page.getByRole('link', { name: '취소 영수증 보기' })).toBeVisible();
  // amounts update without a reload
  await expect(page.getByTestId('cancel-amount')).toHaveText('9,000원');
  await expect(page.getByTestId('refundable')).toHaveText('30,000원');

  await page.reload();
  await expect(page.getByLabel('환불 금액 (원)')).toHaveValue('30000');
  await page.getByLabel('환불 사유').fill('나머지도 환불');
  await refundWithConfirmation(page, '30,000원을 환불합니다');
  await expect(page.getByRole('status')).toContainText('30,000원이 환불되었습니다.');
  await expect(page.getByTestId('refundable')).toHaveText('0원');
  await page.reload();
  await expect(page.getByTestId('not-refundable')).toHaveText('이미 전액환불된 주문입니다.');
});

test('vbank orders ask for the refund account, and require it', async ({ page }) => {
  await signIn(page, MINSU);
  await openOrder(page, '원목 책상 정리함');
  const bank = page.getByLabel('은행');
  await expect(page.getByLabel('예금주')).toBeVisible();
  await expect(page.getByLabel('계좌번호')).toBeVisible();
  await expect(bank.locator('option', { hasText: '신한은행' })).toHaveAttribute('value', '88'); // KG Inicis's code
  await expect(page.getByLabel('예금주')).toHaveAttribute('required', '');
  // card orders have no account fields
  await openOrder(page, '유기농 현미 5kg');
  await expect(page.getByLabel('예금주')).toHaveCount(0);
});

test('orders that cannot be refunded say why', async ({ page }) => {
  await signIn(page, MINSU);
  await openOrder(page, '모바일 게임 아이템 패키지');
  await expect(page.getByTestId('not-refundable')).toContainText('결제한 달에만 환불할 수 있습니다');
  await expect(page.getByRole('button', { name: '환불하기' })).toHaveCount(0);
  await openOrder(page, '핸드드립 원두 세트');
  await expect(page.getByTestId('not-refundable')).toHaveText('이미 전액환불된 주문입니다.');
});

test('double-clicking 환불하기 makes one refund', async ({ page }) => {
  await signIn(page, JIWOO);
  await openOrder(page, '독서 모임 참가비');
  await page.getByLabel('환불 금액 (원)').fill('1000');
  await page.getByLabel('환불 사유').fill('일정 변경');
  await hydrated(page);
  await page.getByRole('button', { name: '환불하기' }).click();
  await page.getByRole('button', { name: '확인, 환불하기' }).dblclick();
  await expect(page.getByRole('status')).toContainText('1,000원이 환불되었습니다.');
  await page.reload();
  await expect(page.getByTestId('cancel-amount')).toHaveText('1,000원');
  await expect(page.locator('table.refunds tbody tr')).toHaveCount(1);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a refund works and shows its result', async ({ page }) => {
    await signIn(page, MINSU);
    await openOrder(page, '유기농 현미 5kg');
    await expect(page.getByLabel('환불 금액 (원)')).toHaveValue('15900'); // prefilled by the server
    await page.getByLabel('환불 금액 (원)').fill('5,900');
    await page.getByLabel('환불 사유').fill('포장 파손');
    await page.getByRole('button', { name: '환불하기' }).click();
    await expect(page.getByRole('heading', { name: '유기농 현미 5kg' })).toBeVisible();
    await expect(page.getByRole('status')).toContainText('5,900원이 환불되었습니다.');
    await expect(page.getByTestId('refundable')).toHaveText('10,000원');
  });

  test('a refused refund shows why', async ({ page }) => {
    await signIn(page, MINSU);
    await openOrder(page, '겨울 패딩 점퍼');
    await page.getByLabel('환불 금액 (원)').fill('200000');
    await page.getByLabel('환불 사유').fill('너무 큼');
    await page.getByRole('button', { name: '환불하기' }).click();
    await expect(page.getByRole('alert')).toContainText('환불 가능 금액(100,000원)을 넘습니다');
  });
});

test.describe('a merchant page with the seed guide\'s snippet', () => {
  // The merchant's own page loads jQuery; ours never runs a script without its nonce, so the
  // test lets the injected library past our Content-Security-Policy.
  test.use({ bypassCSP: true });

test("the seed guide's jQuery snippet refunds through POST /payments/cancel", async ({ page }) => {
  await signIn(page, JIWOO);
  const uid = await openOrder(page, '고양이 간식 세트');
  // jQuery from npm instead of the guide's CDN (no internet here); the call is the guide's own.
  await page.addScriptTag({ path: require.resolve('jquery/dist/jquery.min.js') });
  const result = await page.evaluate(async (merchantUid) => {
    return await new Promise<{ ok: boolean; body: any }>((resolve) => {
      (window as any).jQuery.ajax({
        "url": "/payments/cancel",
        "type": "POST",
        "contentType": "application/json",
        "data": JSON.stringify({
          "merchant_uid": merchantUid,
          "cancel_request_amount": 2000,
          "reason": "테스트 결제 환불"
        }),
        "dataType": "json"
      }).done(function (result: any) { resolve({ ok: true, body: result }); })
        .fail(function (error: any) { resolve({ ok: false, body: error.responseJSON }); });
    });
  }, uid);
  expect(result.ok).toBe(true);
  expect(result.body.cancel_amount).toBe(2000);
  await page.reload();
  await expect(page.getByTestId('cancel-amount')).toHaveText('2,000원');
});
});
