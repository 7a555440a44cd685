// `make bench-refunds`' shop: takes the service's events on PORT and answers 204 after
// FAST_MS milliseconds, every SLOW_EVERY-th after SLOW_MS (a shop's endpoint that queues the
// work and answers; checking each signature is the shop's work, on its machine).
const fast = Number(process.env.FAST_MS || 0);
const slow = Number(process.env.SLOW_MS || 0);
const every = Number(process.env.SLOW_EVERY || 0);
let taken = 0;
require("http")
  .createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      taken += 1;
      const wait = every && taken % every === 0 ? slow : fast;
      setTimeout(() => {
        res.statusCode = 204;
        res.end();
      }, wait);
    });
  })
  .listen(Number(process.env.PORT), "127.0.0.1");
