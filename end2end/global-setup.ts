// cargo-leptos does not wait for the server; neither do we: poll until it answers.
export default async function globalSetup() {
  const base = process.env.BASE_URL ?? 'http://127.0.0.1:3198';
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the app at ${base} did not start within 60 s`);
}
