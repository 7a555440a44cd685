import { expect, Page } from '@playwright/test';

export const MINSU = { email: 'minsu@example.com', password: 'minsu-pass-1234' };
export const JIWOO = { email: 'jiwoo@example.com', password: 'jiwoo-pass-1234' };
export const SIM_URL = process.env.SIM_URL ?? 'http://127.0.0.1:3199';

export const ADMIN = { email: 'admin@example.com', password: 'admin-pass-1234' };

/** Signs in through the form; customers land on 내 주문, admins on 환불 내역. */
export async function signIn(page: Page, who: { email: string; password: string }, landing = /\/orders$/) {
  await page.goto('/login');
  await page.getByLabel('이메일').fill(who.email);
  await page.getByLabel('비밀번호', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page).toHaveURL(landing);
}

/** The merchant_uid of one of the customer's orders, by its product name. */
export async function orderUid(page: Page, productName: string): Promise<string> {
  await page.goto('/orders');
  const row = page.locator('tr', { hasText: productName });
  return (await row.getAttribute('data-merchant-uid'))!;
}

/** Opens one of the customer's orders by its product name; returns its merchant_uid. */
export async function openOrder(page: Page, productName: string): Promise<string> {
  const uid = await orderUid(page, productName);
  await page.goto(`/orders/${uid}`);
  await expect(page.getByRole('heading', { name: productName })).toBeVisible();
  return uid;
}

/** Waits until the page's WebAssembly has taken over (the app marks <body> when hydrated). */
export async function hydrated(page: Page) {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached', timeout: 20_000 });
}

/** Presses 환불하기, checks the confirmation text, and confirms. Needs hydration. */
export async function refundWithConfirmation(page: Page, expectedText: string) {
  await hydrated(page);
  await page.getByRole('button', { name: '환불하기' }).click();
  await expect(page.getByText(expectedText)).toBeVisible();
  await page.getByRole('button', { name: '확인, 환불하기' }).click();
}
