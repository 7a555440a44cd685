// PortOne's own refund recipe (the refund guide's Node.js server code, the seed of this
// product), made runnable so `make bench-refunds` measures it beside the service in the same
// run, against the same simulator and Postgres: Express + pg, an access token fetched for every
// request, the payment read by merchant_uid, the cancel with `checksum`, the answer written
// back. No locking, no idempotency, no sign-in: the recipe has none.
//
// PORT, DATABASE_URL, PORTONE_API_URL, IMP_KEY, IMP_SECRET from the environment.
const express = require("express");
const axios = require("axios");
const { Pool } = require("pg");

const api = process.env.PORTONE_API_URL;
const pool = new Pool({ connectionString: process.env.DATABASE_URL });
const app = express();
app.use(express.json({ limit: "10mb" }));

async function accessToken() {
  const { data } = await axios.post(`${api}/users/getToken`, {
    imp_key: process.env.IMP_KEY,
    imp_secret: process.env.IMP_SECRET,
  });
  return data.response.access_token;
}

// the guide's 결제 완료 webhook: the payment is read from PortOne and stored
app.post("/portone/webhook", async (req, res) => {
  try {
    const token = await accessToken();
    const { data } = await axios.get(`${api}/payments/${req.body.imp_uid}`, {
      headers: { Authorization: token },
    });
    const p = data.response;
    await pool.query(
      `insert into recipe_payments (merchant_uid, imp_uid, amount, cancel_amount, status, response)
       values ($1, $2, $3, $4, $5, $6)
       on conflict (merchant_uid) do update set cancel_amount = $4, status = $5, response = $6`,
      [p.merchant_uid, p.imp_uid, p.amount, p.cancel_amount, p.status, p],
    );
    res.json({ status: "success" });
  } catch (error) {
    res.status(400).send(String(error));
  }
});

// the guide's `/payments/cancel`, step by step
app.post("/payments/cancel", async (req, res) => {
  try {
    /* 액세스 토큰(access token) 발급 */
    const access_token = await accessToken();
    /* 결제정보 조회 */
    const { merchant_uid, reason, cancel_request_amount } = req.body;
    const { rows } = await pool.query("select * from recipe_payments where merchant_uid = $1", [merchant_uid]);
    const paymentData = rows[0];
    const { imp_uid, amount, cancel_amount } = paymentData;
    const cancelableAmount = Number(amount) - Number(cancel_amount);
    if (cancelableAmount <= 0) {
      return res.status(400).json({ message: "이미 전액환불된 주문입니다." });
    }
    /* 포트원 REST API로 결제환불 요청 */
    const getCancelData = await axios({
      url: `${api}/payments/cancel`,
      method: "post",
      headers: { "Content-Type": "application/json", Authorization: access_token },
      data: { reason, imp_uid, amount: cancel_request_amount, checksum: cancelableAmount },
    });
    const { response } = getCancelData.data;
    if (!response) {
      return res.status(400).json({ message: getCancelData.data.message });
    }
    /* 환불 결과 동기화 */
    const updated = await pool.query(
      `update recipe_payments set cancel_amount = $2, status = $3, response = $4
       where merchant_uid = $1 returning *`,
      [response.merchant_uid, response.cancel_amount, response.status, response],
    );
    res.json(updated.rows[0]);
  } catch (error) {
    res.status(400).send(String(error));
  }
});

pool
  .query(
    `create table if not exists recipe_payments (
       merchant_uid text primary key, imp_uid text not null, amount bigint not null,
       cancel_amount bigint not null, status text not null, response jsonb)`,
  )
  .then(() => app.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("express recipe listening")));
