import { expect, Page } from '@playwright/test';

export const MINSU = { email: 'minsu@example.com', password: 'minsu-pass-1234' };
export const JIWOO = { email: 'jiwoo@example.com', password: 'jiwoo-pass-1234' };
export const SIM_URL = process.env.SIM_URL ?? 'http://127.0.0.1:3199';

export async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto('/login');
  await page.getByLabel('이메일').fill(who.email);
  await page.getByLabel('비밀번호', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page).toHaveURL(/\/orders$/);
}

/** The merchant_uid of one of the customer's orders, by its product name. */
export async function orderUid(page: Page, productName: string): Promise<string> {
  await page.goto('/orders');
  const row = page.locator('tr', { hasText: productName });
  return (await row.getAttribute('data-merchant-uid'))!;
}
