import { expect, test } from '@playwright/test';
import { hydrated, JIWOO, MINSU, orderUid, signIn } from './helpers';

test('민수 signs in and sees exactly his orders, in won and KST', async ({ page }) => {
  await signIn(page, MINSU);
  await expect(page.getByRole('heading', { name: '내 주문' })).toBeVisible();
  const rows = page.locator('table.orders tbody tr');
  await expect(rows).toHaveCount(12);
  await expect(page.getByText('러닝화 에어 쿠션')).toHaveCount(0); // 지우's order
  const padding = rows.filter({ hasText: '겨울 패딩 점퍼' });
  await expect(padding).toContainText('128,000원');
  await expect(padding).toContainText('28,000원');
  await expect(padding).toContainText('100,000원');
  await expect(padding).toContainText('부분환불');
  // dates are shown in KST as YYYY-MM-DD HH:MM
  await expect(padding.locator('td').nth(3)).toHaveText(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
  await padding.getByRole('link').click();
  await expect(page.getByRole('heading', { name: '겨울 패딩 점퍼' })).toBeVisible();
  await expect(page.getByTestId('refundable')).toHaveText('100,000원');
});

test("지우's order is a 404 for 민수", async ({ browser }) => {
  const jiwooPage = await (await browser.newContext()).newPage();
  await signIn(jiwooPage, JIWOO);
  const uid = await orderUid(jiwooPage, '러닝화 에어 쿠션');
  const page = await (await browser.newContext()).newPage();
  await signIn(page, MINSU);
  const res = await page.goto(`/orders/${uid}`);
  expect(res?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: '페이지를 찾을 수 없습니다' })).toBeVisible();
});

test('a wrong password shows the message', async ({ page }) => {
  await page.goto('/login');
  await page.getByLabel('이메일').fill(JIWOO.email);
  await page.getByLabel('비밀번호', { exact: true }).fill('not-the-password');
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page.getByRole('alert')).toHaveText('이메일 또는 비밀번호가 올바르지 않습니다.');
});

test('visitors are sent to sign in', async ({ page }) => {
  await page.goto('/orders');
  await expect(page).toHaveURL(/\/login$/);
});

test('the page hydrates: showing the password needs WebAssembly', async ({ page }) => {
  await page.goto('/login');
  const password = page.getByLabel('비밀번호', { exact: true });
  await expect(password).toHaveAttribute('type', 'password');
  await hydrated(page);
  await page.getByLabel('비밀번호 표시').check();
  await expect(password).toHaveAttribute('type', 'text');
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('sign-in works', async ({ page }) => {
    await page.goto('/login');
    await page.getByLabel('이메일').fill(MINSU.email);
    await page.getByLabel('비밀번호', { exact: true }).fill(MINSU.password);
    await page.getByRole('button', { name: '로그인' }).click();
    await expect(page).toHaveURL(/\/orders$/);
    await expect(page.locator('table.orders tbody tr')).toHaveCount(12);
  });

  test('a wrong password shows the message', async ({ page }) => {
    await page.goto('/login');
    await page.getByLabel('이메일').fill(JIWOO.email);
    await page.getByLabel('비밀번호', { exact: true }).fill('wrong');
    await page.getByRole('button', { name: '로그인' }).click();
    await expect(page.getByRole('alert')).toHaveText('이메일 또는 비밀번호가 올바르지 않습니다.');
  });
});
