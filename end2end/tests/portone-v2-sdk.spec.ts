import { test, expect } from '@playwright/test';
import { PaymentClient } from '@portone/server-sdk';

// A contract test: PortOne's own V2 server SDK (npm @portone/server-sdk) is a real client, and
// the simulator's V2 listener must answer it as PortOne does — for reading and cancelling.
const SIM_V2 = process.env.SIM_V2_URL ?? 'http://127.0.0.1:3197';
const SECRET = 'demo-v2-secret-for-the-simulator-only';
const WEBHOOK_SECRET = 'whsec_ZGVtby13ZWJob29rLXNlY3JldC1zaW0h';

test("PortOne's V2 server SDK reads and cancels a payment on the simulator", async ({ request }) => {
  const paymentId = `sdk-${Date.now()}`;
  const created = await request.post(`${SIM_V2}/__sim/payments`, {
    data: {
      paymentId, amount: 10000, orderName: '무선 마우스', method: 'card', pgProvider: 'NICE_V2',
      customer: { email: 'minsu@example.com', name: '김민수' },
    },
  });
  expect(created.status()).toBe(201);

  const client = PaymentClient({ secret: SECRET, baseUrl: SIM_V2 });
  const paid = await client.getPayment({ paymentId });
  expect(paid.status).toBe('PAID');
  if (paid.status !== 'PAID') return;
  expect(paid.amount.total).toBe(10000);
  expect(paid.version).toBe('V2');

  const { cancellation } = await client.cancelPayment({
    paymentId, amount: 3000, reason: '[R-7F3A2C1D] 단순 변심', requester: 'CUSTOMER',
    currentCancellableAmount: 10000,
  });
  expect(cancellation.status).toBe('SUCCEEDED');
  expect(cancellation.totalAmount).toBe(3000);

  const after = await client.getPayment({ paymentId });
  expect(after.status).toBe('PARTIAL_CANCELLED');
  if (after.status !== 'PARTIAL_CANCELLED') return;
  expect(after.amount.cancelled).toBe(3000);
  expect(after.cancellations.map((c) => c.reason)).toEqual(['[R-7F3A2C1D] 단순 변심']);

  // a stale balance is refused with the spec's error type, which the SDK reads
  const refused = await client
    .cancelPayment({ paymentId, amount: 1000, reason: '다시', currentCancellableAmount: 10000 })
    .then(() => null, (e: { data?: { type?: string } }) => e.data?.type);
  expect(refused).toBe('CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN');

  // and a wrong secret is the SDK's unauthorised error
  const stranger = PaymentClient({ secret: 'not-the-secret', baseUrl: SIM_V2 });
  const unauthorised = await stranger.getPayment({ paymentId }).then(() => null, (e: { data?: { type?: string } }) => e.data?.type);
  expect(unauthorised).toBe('UNAUTHORIZED');
});

test("PortOne's V2 server SDK accepts the simulator's signed webhooks", async ({ request }) => {
  const { createServer } = await import('node:http');
  const { Webhook } = await import('@portone/server-sdk');
  const received: { body: string; headers: Record<string, string | string[] | undefined> }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ body, headers: req.headers });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    const SIM = process.env.SIM_URL ?? 'http://127.0.0.1:3199';
    await request.post(`${SIM}/__sim/config`, { data: { v2_webhook_url: `http://127.0.0.1:${port}/hook` } });
    const paymentId = `sdk-hook-${Date.now()}`;
    await request.post(`${SIM_V2}/__sim/payments`, {
      data: { paymentId, amount: 5000, orderName: '키캡', method: 'card', pgProvider: 'KCP_V2' },
    });
    const cancelled = await request.post(`${SIM_V2}/__sim/payments/${paymentId}/cancel`, { data: { amount: 2000 } });
    expect((await cancelled.json()).webhook.status).toBe(200);

    expect(received).toHaveLength(1);
    const hook = await Webhook.verify(WEBHOOK_SECRET, received[0].body, received[0].headers);
    expect(hook.type).toBe('Transaction.PartialCancelled');
    if (hook.type !== 'Transaction.PartialCancelled') return;
    expect(hook.data.paymentId).toBe(paymentId);
    // the same body altered does not verify
    await expect(
      Webhook.verify(WEBHOOK_SECRET, received[0].body.replace(paymentId, 'someone-else'), received[0].headers),
    ).rejects.toThrow();
  } finally {
    await request.post(`${process.env.SIM_URL ?? 'http://127.0.0.1:3199'}/__sim/config`, { data: { v2_webhook_url: '' } });
    server.close();
  }
});
