// Opens the chat page twice in headless Chromium, joins as alice and bob, and checks that
// messages and joined/left notices reach the other page.
//
// Usage: node chat-roundtrip.mjs <http://ADDR> [screenshot directory]
// Run by examples/chat/tests/browser.rs, which starts the server. Exits 0 on success.

import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, shotsArg] = process.argv.slice(2);
if (!base) {
  console.error("usage: node chat-roundtrip.mjs <http://ADDR> [screenshot directory]");
  process.exit(2);
}
const shots = shotsArg ?? mkdtempSync(join(tmpdir(), "nestgate-chat-"));

// Each wait is bounded; the watchdog bounds the whole run, browser start-up included.
const STEP_TIMEOUT_MS = 15_000;
setTimeout(() => {
  console.error("FAILED: the whole run took more than 90 s");
  process.exit(1);
}, 90_000).unref();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  headless: true,
  timeout: 60_000,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

const pages = [];

/** Opens the page in a fresh context (its own storage), reporting the page's own errors. */
async function open(label) {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") console.log(`[${label} console] ${msg.text()}`);
  });
  page.errors = errors;
  page.label = label;
  pages.push(page);
  await page.goto(base, { waitUntil: "load" });
  return page;
}

/** Types a name, clicks Join and waits for the welcome (the composer appears). */
async function joinAs(page, name) {
  await page.locator("#status.online").waitFor(); // the WebSocket is open
  await page.fill("#name", name);
  await page.click("#join");
  await page.locator("#text").waitFor({ state: "visible" });
  await page.locator("#messages .notice", { hasText: `You joined as ${name}` }).waitFor();
  console.log(`${name} joined`);
}

/** Waits for a chat message from `name` with `text` on `page`. */
async function seeMessage(page, name, text) {
  const line = page.locator("#messages .msg", { hasText: text });
  await line.waitFor();
  const who = await line.locator(".who").textContent();
  if (who !== name) throw new Error(`expected the message "${text}" from ${name}, shown from ${who}`);
}

let failed = false;
try {
  const alice = await open("alice");
  const bob = await open("bob");

  // Writing before joining is not possible: the composer is hidden until the welcome.
  if (await alice.locator("#text").isVisible()) throw new Error("#text is visible before joining");

  await joinAs(alice, "alice");

  // The server's exceptions show as error lines: bob's page writes before joining.
  await bob.locator("#status.online").waitFor();
  await bob.evaluate(() => send("message", { text: "too early" }));
  await bob.locator("#messages .error", { hasText: "join first" }).waitFor();
  console.log("bob's page shows the server's exception");

  await joinAs(bob, "bob");
  await alice.locator("#messages .notice", { hasText: "bob joined" }).waitFor();
  console.log("alice sees that bob joined");

  // Alice sends with Enter; both pages show it.
  await alice.fill("#text", "hello from alice");
  await alice.press("#text", "Enter");
  await seeMessage(bob, "alice", "hello from alice");
  await seeMessage(alice, "alice", "hello from alice");
  console.log("bob sees alice's message");
  if ((await alice.inputValue("#text")) !== "") throw new Error("#text is not cleared after sending");

  // Bob answers with the Send button.
  await bob.fill("#text", "hi alice <b>not bold</b>");
  await bob.click("#send");
  await seeMessage(alice, "bob", "hi alice <b>not bold</b>");
  console.log("alice sees bob's answer, as text");

  await alice.locator("#online", { hasText: "2 online" }).waitFor();

  // Alice's connection drops: her page reconnects, joins again under her name, and carries on.
  await alice.evaluate(() => ws.close());
  await alice.locator("#messages .error", { hasText: "connection lost" }).waitFor();
  await bob.locator("#messages .notice", { hasText: "alice left" }).waitFor();
  await alice.locator("#messages .notice", { hasText: "You joined as alice" }).nth(1).waitFor();
  await bob.locator("#messages .notice", { hasText: "alice joined" }).nth(1).waitFor();
  await alice.locator("#status.online").waitFor();
  await alice.fill("#text", "back again");
  await alice.press("#text", "Enter");
  await seeMessage(bob, "alice", "back again");
  console.log("alice's page reconnected and joined again");
  await alice.locator("#online", { hasText: "2 online" }).waitFor();

  const aliceShot = join(shots, "chat-alice.png");
  const bobShot = join(shots, "chat-bob.png");
  await alice.screenshot({ path: aliceShot });
  await bob.screenshot({ path: bobShot });
  console.log(`screenshots: ${aliceShot} ${bobShot}`);

  // Bob closes his page: alice is told.
  await bob.context().close();
  await alice.locator("#messages .notice", { hasText: "bob left" }).waitFor();
  console.log("alice sees that bob left");

  if (alice.errors.length > 0) throw new Error(`errors on alice's page: ${alice.errors.join("; ")}`);
  if (bob.errors.length > 0) throw new Error(`errors on bob's page: ${bob.errors.join("; ")}`);
  console.log("OK: the chat round-trip works in Chromium");
} catch (err) {
  failed = true;
  console.error(`FAILED: ${err.stack ?? err}`);
  for (const page of pages.filter((p) => !p.isClosed())) {
    const path = join(shots, `failure-${page.label}.png`);
    await page.screenshot({ path }).catch(() => {});
    console.error(`screenshot of ${page.label}'s page: ${path}`);
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
