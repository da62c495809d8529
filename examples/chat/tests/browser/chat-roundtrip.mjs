// Opens the chat page twice in headless Chromium, joins as alice and bob, and checks that
// messages and joined/left notices reach the other page, and that rooms keep their messages to
// their members: bob never gets what alice writes in #rust until he joins it.
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

/** Joins `room` by typing its name in the sidebar; it becomes the current room. */
async function joinRoom(page, room) {
  await page.fill("#room", room);
  await page.click("#join-room");
  await currentRoomIs(page, room);
  console.log(`${page.label} joined #${room}`);
}

/** Waits until `room` is the page's current room. */
async function currentRoomIs(page, room) {
  await page.locator("#current-room", { hasText: `#${room}` }).waitFor();
  await page.locator(`#my-rooms li.current[data-room="${room}"]`).waitFor();
}

/** Clicks `room` in the page's list of its rooms. */
async function switchTo(page, room) {
  await page.click(`#my-rooms li[data-room="${room}"] .room-switch`);
  await currentRoomIs(page, room);
}

/** Sends `text` to the page's current room with Enter. */
async function say(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

/** Fails if `page` has, even hidden, a chat message with `text`. */
async function neverGot(page, text) {
  const count = await page.locator("#messages .msg", { hasText: text }).count();
  if (count !== 0) throw new Error(`${page.label}'s page got "${text}", meant for a room it is not in`);
}

let failed = false;
try {
  const alice = await open("alice");
  const bob = await open("bob");

  // Writing before joining is not possible: the composer is hidden until the welcome.
  if (await alice.locator("#text").isVisible()) throw new Error("#text is visible before joining");

  await joinAs(alice, "alice");
  await currentRoomIs(alice, "general");

  // The server's exceptions show as error lines: bob's page writes before joining.
  await bob.locator("#status.online").waitFor();
  await bob.evaluate(() => send("message", { room: "general", text: "too early" }));
  await bob.locator("#messages .error", { hasText: "join first" }).waitFor();
  console.log("bob's page shows the server's exception");

  await joinAs(bob, "bob");
  await alice.locator("#messages .notice", { hasText: "bob joined #general" }).waitFor();
  console.log("alice sees that bob joined #general");

  // Alice sends with Enter; both pages show it, in #general.
  await say(alice, "hello from alice");
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

  // Alice joins #rust; bob's list of every room shows it, with its one member.
  await joinRoom(alice, "rust");
  await bob.click("#refresh-rooms");
  await bob.locator('#all-rooms li[data-room="rust"] .size', { hasText: "1" }).waitFor();
  console.log("bob sees that #rust exists");

  // Alice writes in #rust, then in #general: bob gets the second and never the first.
  await say(alice, "secret rust talk");
  await seeMessage(alice, "alice", "secret rust talk");
  await switchTo(alice, "general");
  if (await alice.locator("#messages .msg", { hasText: "secret rust talk" }).isVisible()) {
    throw new Error("a #rust message shows while alice's page is in #general");
  }
  await say(alice, "sync point");
  await seeMessage(bob, "alice", "sync point");
  await neverGot(bob, "secret rust talk");
  console.log("bob, not in #rust, never got alice's #rust message");

  // Bob joins #rust from the list of every room, and gets the next message there.
  await bob.click('#all-rooms li[data-room="rust"] .room-join');
  await currentRoomIs(bob, "rust");
  await switchTo(alice, "rust");
  await alice.locator("#messages .notice", { hasText: "bob joined #rust" }).waitFor();
  await say(alice, "welcome to rust, bob");
  await seeMessage(bob, "alice", "welcome to rust, bob");
  await neverGot(bob, "secret rust talk");
  console.log("bob joined #rust and sees the next message there");

  // A message in a room that is not shown counts as unread in the sidebar.
  await switchTo(bob, "general");
  await say(alice, "psst, in rust");
  await bob.locator('#my-rooms li[data-room="rust"] .unread', { hasText: "1" }).waitFor();
  await switchTo(bob, "rust");
  await seeMessage(bob, "alice", "psst, in rust");
  if (await bob.locator("#my-rooms .unread").count() !== 0) throw new Error("the unread mark stays");
  console.log("bob's sidebar counted the unread message");

  // Alice's connection drops: her page reconnects, joins again under her name and into her
  // rooms, comes back to #rust, and carries on.
  await alice.evaluate(() => ws.close());
  await alice.locator("#messages .error", { hasText: "connection lost" }).waitFor();
  await bob.locator("#messages .notice", { hasText: "alice left #rust" }).waitFor();
  await alice.locator("#messages .notice", { hasText: "You joined as alice" }).nth(1).waitFor();
  await bob.locator("#messages .notice", { hasText: "alice joined #rust" }).waitFor();
  await alice.locator("#status.online").waitFor();
  await currentRoomIs(alice, "rust");
  await alice.locator('#my-rooms li[data-room="general"]').waitFor();
  await say(alice, "back again");
  await seeMessage(bob, "alice", "back again");
  console.log("alice's page reconnected and joined her rooms again");
  await alice.locator("#online", { hasText: "2 online" }).waitFor();

  const aliceShot = join(shots, "chat-alice.png");
  const bobShot = join(shots, "chat-bob.png");
  await alice.screenshot({ path: aliceShot });
  await bob.screenshot({ path: bobShot });
  console.log(`screenshots: ${aliceShot} ${bobShot}`);

  // Bob leaves #rust with its × button: his page goes back to #general; alice is told.
  await bob.click('#my-rooms li[data-room="rust"] .room-leave');
  await currentRoomIs(bob, "general");
  if (await bob.locator('#my-rooms li[data-room="rust"]').count() !== 0) {
    throw new Error("#rust stays in bob's rooms after leaving it");
  }
  await alice.locator("#messages .notice", { hasText: "bob left #rust" }).waitFor();
  console.log("bob left #rust");

  // Bob closes his page: alice is told in #general, the one room he was still in.
  await switchTo(alice, "general");
  await bob.context().close();
  await alice.locator("#messages .notice", { hasText: "bob left #general" }).waitFor();
  await alice.locator("#online", { hasText: "1 online" }).waitFor();
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
