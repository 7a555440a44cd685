import { createHmac } from 'node:crypto';
import { createServer, IncomingHttpHeaders } from 'node:http';
import { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';
import { ADMIN, MINSU, openOrder, refundWithConfirmation, signIn } from './helpers';

/** Standard Webhooks, as the README shows it for Node: HMAC-SHA256 of `id.timestamp.body`. */
function verify(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`;
  const expected = createHmac('sha256', key).update(signed).digest('base64');
  const fresh = Math.abs(Date.now() / 1000 - Number(headers['webhook-timestamp'])) < 300;
  return fresh && String(headers['webhook-signature']).split(' ').some((s) => s === `v1,${expected}`);
}

test('an admin adds the shop\'s endpoint on 연동, and a refund reaches it signed', async ({ browser }) => {
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/refunds`;
  try {
    const admin = await browser.newPage();
    await signIn(admin, ADMIN, /\/admin\/refunds/);
    await admin.goto('/admin/integration');
    await admin.getByLabel('받을 주소 (https)').fill(url);
    await admin.getByLabel('이벤트 (쉼표로 구분, 비우면 전체)').fill('refund.succeeded');
    await admin.getByRole('button', { name: '수신 주소 추가' }).click();
    const secret = (await admin.getByTestId('new-endpoint-secret').textContent())!;
    expect(secret).toMatch(/^whsec_/);
    // shown once
    await admin.reload();
    await expect(admin.getByTestId('new-endpoint-secret')).toHaveCount(0);

    const customer = await browser.newPage();
    await signIn(customer, MINSU);
    await openOrder(customer, '캠핑 랜턴');
    await customer.getByLabel('환불 금액 (원)').fill('5000');
    await customer.getByLabel('환불 사유').fill('불빛이 약함');
    await refundWithConfirmation(customer, '5,000원을 환불합니다');
    await expect(customer.getByRole('status')).toContainText('5,000원이 환불되었습니다.');

    await expect.poll(() => received.length, { timeout: 15_000 }).toBe(1);
    const event = JSON.parse(received[0].body);
    expect(verify(secret, received[0].headers, received[0].body)).toBe(true);
    expect(event.type).toBe('refund.succeeded');
    expect(event.id).toBe(received[0].headers['webhook-id']);
    expect(event.data.refund.amount).toBe(5000);
    expect(event.data.refund.reference).toMatch(/^R-[0-9A-F]{8}$/);
    expect(event.data.payment.customer_id).toBe('C-1001');

    // the delivery log says so; the endpoint is removed again
    await admin.reload();
    const endpoint = admin.locator('section.endpoint', { hasText: url });
    await expect(endpoint.locator('tr[data-status="delivered"]')).toHaveCount(1);
    await endpoint.getByRole('button', { name: '삭제' }).click();
    await expect(admin.locator('section.endpoint', { hasText: url })).toHaveCount(0);
  } finally {
    server.close();
  }
});
