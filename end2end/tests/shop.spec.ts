import { createHmac, randomUUID } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { ADMIN, refundWithConfirmation, signIn, SIM_URL } from './helpers';

// Set by scripts/e2e.sh: what a shop gets from `portone-refund api-key create` and its config.
const SHOP_API_KEY = process.env.SHOP_API_KEY ?? '';
const SHOP_LOGIN_SECRET = process.env.SHOP_LOGIN_SECRET ?? '';

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** The token a shop's server signs (HS256), as the README's Node example does. */
function shopToken(claims: Record<string, unknown>): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', SHOP_LOGIN_SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** RFC 6238: the 6-digit code an authenticator shows for a base32 secret at `time` (seconds). */
function totp(secret: string, time: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return code.toString().padStart(6, '0');
}

test("a customer arriving from the shop's link refunds their order", async ({ page, request, baseURL }) => {
  const customer = `C-E2E-${randomUUID().slice(0, 8)}`;
  const uid = `ORD-E2E-${randomUUID().slice(0, 12)}`;
  // the shop's server registers the order, then the customer pays (PortOne's webhook imports it)
  const put = await request.put(`${baseURL}/api/v1/orders/${uid}`, {
    headers: { authorization: `Bearer ${SHOP_API_KEY}` },
    data: { customer: { id: customer, email: `${customer.toLowerCase()}@shop.example`, name: '최쇼핑' }, amount: 27000, name: '쇼핑몰 연동 주문' },
  });
  expect(put.status()).toBe(201);
  const paid = await request.post(`${SIM_URL}/__sim/payments`, {
    data: { merchant_uid: uid, amount: 27000, pay_method: 'card', pg_provider: 'kcp', name: '쇼핑몰 연동 주문', buyer_email: 'someone-else@example.com', notify: true },
  });
  expect(paid.headers()['x-sim-webhook']).toBe('200');

  // the shop's 환불하기 link
  const now = Math.floor(Date.now() / 1000);
  const token = shopToken({ sub: customer, email: `${customer.toLowerCase()}@shop.example`, name: '최쇼핑', iat: now, exp: now + 600, jti: randomUUID(), next: `/orders/${uid}` });
  await page.goto(`/shop-login?token=${token}`);
  await expect(page).toHaveURL(new RegExp(`/orders/${uid}$`));
  await expect(page.getByRole('heading', { name: '쇼핑몰 연동 주문' })).toBeVisible();
  await expect(page.locator('.who')).toContainText('최쇼핑');
  await page.getByLabel('환불 금액 (원)').fill('7000');
  await page.getByLabel('환불 사유').fill('사이즈가 맞지 않아요');
  await refundWithConfirmation(page, '7,000원을 환불합니다');
  await expect(page.getByRole('status')).toContainText('7,000원이 환불되었습니다.');

  // the same link again is refused, and says so in Korean
  await page.context().clearCookies();
  await page.goto(`/shop-login?token=${token}`);
  await expect(page.getByRole('alert')).toContainText('이미 사용된 로그인 링크입니다');

  // the shop reads the refund back
  const listed = await request.get(`${baseURL}/api/v1/orders/${uid}/refunds`, {
    headers: { authorization: `Bearer ${SHOP_API_KEY}` },
  });
  const refunds = (await listed.json()).refunds;
  expect(refunds).toHaveLength(1);
  expect(refunds[0]).toMatchObject({ status: 'succeeded', amount: 7000, requester: 'customer' });
});

test('an invited admin enrolls an authenticator and signs in with TOTP', async ({ page }) => {
  test.setTimeout(90_000);
  const email = `admin-${randomUUID().slice(0, 8)}@shop.example`;
  await signIn(page, ADMIN, /\/admin\/refunds/);
  await page.goto('/admin/admins');
  await page.getByLabel('초대할 이메일').fill(email);
  await page.getByRole('button', { name: '초대 링크 만들기' }).click();
  const link = await page.getByTestId('invite-link').textContent();
  expect(link).toContain('/admin/invite?token=');
  await page.context().clearCookies();

  await page.goto(link!);
  await expect(page.getByText(`${email} 님을 관리자로 초대했습니다.`)).toBeVisible();
  await expect(page.getByRole('img', { name: '인증 앱 등록 QR 코드' })).toBeVisible();
  const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
  await page.getByLabel('이름').fill('새 관리자');
  await page.getByLabel('비밀번호', { exact: true }).fill('a-long-admin-password');
  await page.getByLabel('인증 앱의 6자리 코드').fill(totp(secret, Date.now() / 1000));
  await page.getByRole('button', { name: '등록' }).click();
  await expect(page).toHaveURL(/\/admin\/admins$/);
  await expect(page.getByTestId('recovery-codes').locator('li')).toHaveCount(10);

  // signed out, then in again with the password and the authenticator's next code
  await page.getByRole('button', { name: '로그아웃' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.getByLabel('이메일').fill(email);
  await page.getByLabel('비밀번호', { exact: true }).fill('a-long-admin-password');
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page.getByRole('alert')).toContainText('관리자 인증 코드가 올바르지 않습니다');
  // (without WebAssembly yet, the refused form came back as a new page: fill it again)
  await page.getByLabel('이메일').fill(email);
  await page.getByLabel('비밀번호', { exact: true }).fill('a-long-admin-password');
  await page.getByLabel('관리자 인증 코드').fill(totp(secret, Date.now() / 1000 + 30));
  await page.getByRole('button', { name: '로그인' }).click();
  await expect(page).toHaveURL(/\/admin\/refunds/);
  await expect(page.locator('.who')).toContainText('새 관리자');
});
