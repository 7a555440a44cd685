// `make bench-refunds`' shop: takes the service's events on PORT and answers 204, as a shop's
// endpoint that accepts them does (checking each signature is the shop's work, on its machine).
require("http")
  .createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.statusCode = 204;
      res.end();
    });
  })
  .listen(Number(process.env.PORT), "127.0.0.1");
