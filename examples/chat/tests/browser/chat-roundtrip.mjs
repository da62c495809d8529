// Opens the chat page twice in headless Chromium, joins as alice and bob, and checks that
// messages and joined/left notices reach the other page, and that rooms keep their messages to
// their members: bob never gets what alice writes in #rust until he joins it. Then bob's network
// blips (his page goes through a TCP proxy in this script, which drops its connections) while
// alice writes: his page recovers its connection (connection-state recovery) and shows what he
// missed, once each and in order, without joining again. Then the chat server restarts (the
// process is terminated and a new one starts on the same port): its sessions are gone, so both
// pages say they are reconnecting, are not recovered, join again by themselves into their rooms,
// and talk again.
//
// Usage: node chat-roundtrip.mjs <chat binary> [screenshot directory]
// Run by examples/chat/tests/browser.rs with the binary cargo built. The script starts the
// server itself, since it stops and restarts it in the middle. Exits 0 on success.

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [binary, shotsArg] = process.argv.slice(2);
if (!binary) {
  console.error("usage: node chat-roundtrip.mjs <chat binary> [screenshot directory]");
  process.exit(2);
}
const shots = shotsArg ?? mkdtempSync(join(tmpdir(), "nestgate-chat-"));

// Each wait is bounded; the watchdog bounds the whole run, browser start-up included.
const STEP_TIMEOUT_MS = 15_000;
setTimeout(() => {
  console.error("FAILED: the whole run took more than 90 s");
  process.exit(1);
}, 90_000).unref();

// ---- the chat server -------------------------------------------------------------------------

/** The running server's process, killed if the script ends while it runs. */
let serverProcess = null;
process.on("exit", () => serverProcess?.kill("SIGKILL"));

/**
 * Starts the chat server on `port` (0: any) and resolves with the port it listens on. A given
 * port is retried for up to 10 s: the previous process's socket may still hold it briefly.
 */
async function startServer(port) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await startOnce(port);
    } catch (err) {
      if (port === 0 || Date.now() > deadline) throw err;
      console.log(`the chat server did not start on port ${port} (${err.message}); again`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** One start: resolves once the server prints `listening on http://ADDR`, rejects if it exits. */
function startOnce(port) {
  const child = spawn(binary, [], {
    env: { ...process.env, PORT: String(port), RUST_LOG: process.env.RUST_LOG ?? "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no "listening on" within ${STEP_TIMEOUT_MS} ms: ${out}`));
    }, STEP_TIMEOUT_MS);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`it exited (${signal ?? code}): ${out.trim()}`));
    });
    // Its logs go to stdout too: pass them on, and read the address from them.
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk.replace(/^(?=.)/gm, "[chat server] "));
      out += chunk;
      const match = /listening on http:\/\/(\S+)/.exec(out);
      if (match && serverProcess !== child) {
        clearTimeout(timer);
        serverProcess = child;
        resolve(Number(match[1].split(":").pop()));
      }
    });
  });
}

/** Sends SIGTERM to the server and waits for the process to exit (SIGKILL and fail after 10 s). */
async function stopServer() {
  const child = serverProcess;
  if (child.exitCode !== null || child.signalCode !== null) throw new Error("the chat server died");
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
  child.kill("SIGTERM");
  const timeout = new Promise((resolve) => setTimeout(resolve, 10_000, "timeout"));
  const how = await Promise.race([exited, timeout]);
  serverProcess = null;
  if (how === "timeout") {
    child.kill("SIGKILL");
    throw new Error("the chat server did not exit within 10 s of SIGTERM");
  }
  console.log(`the chat server exited (${how})`);
}

const port = await startServer(0);
const base = `http://127.0.0.1:${port}`;
console.log(`the chat server listens on ${base}`);

// ---- a network that blips ----------------------------------------------------------------------

/**
 * A TCP proxy to the chat server. A page opened through it (its URL) talks to the server
 * through it too, since the page connects to `location.host`. `cut()` drops every connection
 * through it at once, as a network that goes away does (no close frame); `refuse(true)` turns
 * new connections away, so that the page stays away while the other one writes.
 */
async function startProxy(upstreamPort) {
  const connections = new Set();
  let refusing = false;
  const server = net.createServer((client) => {
    client.on("error", () => {});
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(upstreamPort, "127.0.0.1");
    upstream.on("error", () => {});
    const pair = [client, upstream];
    connections.add(pair);
    const drop = () => {
      connections.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", drop);
    upstream.on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      for (const [client, upstream] of connections) {
        client.destroy();
        upstream.destroy();
      }
      connections.clear();
    },
    refuse(on) {
      refusing = on;
    },
  };
}

const proxy = await startProxy(port);
console.log(`bob's page goes through the proxy at ${proxy.url}`);

// ---- the pages -------------------------------------------------------------------------------

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

/** Opens the page (at `url`) in a fresh context (its own storage), reporting its own errors. */
async function open(label, url = base) {
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
  await page.goto(url, { waitUntil: "load" });
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

/** Runs `action`, then waits for one more (visible) notice with `text` on `page` than before. */
async function newNotice(page, text, action) {
  const notices = page.locator("#messages .notice", { hasText: text });
  const before = await notices.count();
  await action();
  await notices.nth(before).waitFor();
}

/** The texts of the chat messages on `page` (hidden ones too) that start with `prefix`, in order. */
function messageTexts(page, prefix) {
  return page.evaluate(
    (prefix) =>
      [...document.querySelectorAll("#messages .msg .text")]
        .map((text) => text.textContent)
        .filter((text) => text.startsWith(prefix)),
    prefix,
  );
}

/** How many notices on `page` (hidden ones too) contain `text`. */
function noticeCount(page, text) {
  return page.locator("#messages .notice", { hasText: text }).count();
}

/** Fails if `page` has, even hidden, a chat message with `text`. */
async function neverGot(page, text) {
  const count = await page.locator("#messages .msg", { hasText: text }).count();
  if (count !== 0) throw new Error(`${page.label}'s page got "${text}", meant for a room it is not in`);
}

let failed = false;
try {
  const alice = await open("alice");
  const bob = await open("bob", proxy.url);

  // Writing before joining is not possible: the composer is hidden until the welcome.
  if (await alice.locator("#text").isVisible()) throw new Error("#text is visible before joining");

  await joinAs(alice, "alice");
  await currentRoomIs(alice, "general");

  // The server's exceptions show as error lines: bob's page writes before joining.
  await bob.locator("#status.online").waitFor();
  // The page's forms never send before joining: the page's socket does, for this test only.
  await bob.evaluate(() => window.chatSocket.emit("message", { room: "general", text: "too early" }));
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

  // Bob's network blips: the proxy drops his connection, and turns him away while alice writes
  // in #rust (the room his page shows). His page comes back as the same socket: it says
  // "recovered", shows each missed message once and in order, and joins nothing again (no
  // "You joined" line, no welcome); alice hears that he left, then that he is back.
  const bobJoins = await noticeCount(bob, "You joined");
  const bobErrors = await bob.locator("#messages .error").count();
  const aliceHeardBack = await noticeCount(alice, "bob joined #rust");
  proxy.refuse(true);
  proxy.cut();
  await bob.locator("#status.reconnecting", { hasText: "reconnecting" }).waitFor();
  await bob.locator("#messages .error", { hasText: "connection lost" }).waitFor();
  // The server saw him go (it keeps his session from then on).
  await alice.locator("#messages .notice", { hasText: "bob left #rust" }).waitFor();
  console.log("bob's network is down; alice sees that he left");
  const missed = ["missed 1", "missed 2", "missed 3"];
  for (const text of missed) {
    await say(alice, text);
    await seeMessage(alice, "alice", text);
  }
  proxy.refuse(false);
  await bob.locator("#status.online", { hasText: "connected (recovered)" }).waitFor();
  await bob.locator("#messages .notice", { hasText: "connection recovered" }).waitFor();
  await seeMessage(bob, "alice", missed.at(-1));
  await currentRoomIs(bob, "rust");
  await bob.locator('#my-rooms li[data-room="general"]').waitFor();
  await alice.locator("#messages .notice", { hasText: "bob joined #rust" }).nth(aliceHeardBack).waitFor();
  await bob.locator("#online", { hasText: "2 online" }).waitFor();
  // Live again, both ways; anything replayed twice would have come before these.
  await say(bob, "back from the blip");
  await seeMessage(alice, "bob", "back from the blip");
  await seeMessage(bob, "bob", "back from the blip");
  await say(alice, "good to see you");
  await seeMessage(bob, "alice", "good to see you");
  const shown = await messageTexts(bob, "missed ");
  if (JSON.stringify(shown) !== JSON.stringify(missed)) {
    throw new Error(`bob's page shows the missed messages as ${JSON.stringify(shown)}`);
  }
  if ((await noticeCount(bob, "You joined")) !== bobJoins) throw new Error("bob's page joined again");
  // "connection lost" only: a join sent again would have been refused ("already joined as bob").
  if ((await bob.locator("#messages .error").count()) !== bobErrors + 1) {
    throw new Error(`bob's page shows errors: ${await bob.locator("#messages .error").allTextContents()}`);
  }
  if ((await noticeCount(bob, "bob left")) !== 0) throw new Error("bob's page was told that he left");
  await alice.locator("#online", { hasText: "2 online" }).waitFor();
  const recoveredShot = join(shots, "chat-bob-recovered.png");
  await bob.screenshot({ path: recoveredShot });
  console.log(`bob's page recovered: the missed messages once each, in order (screenshot: ${recoveredShot})`);

  // The server restarts: SIGTERM ends the process (its sockets close with 1001), and a new one
  // starts on the same port. Both pages say they are reconnecting, and come back by themselves:
  // the new process knows none of their sessions, so they are not recovered and join again
  // under their names, into their rooms, on #rust as before; they talk again.
  const lost = new Map();
  for (const page of [alice, bob]) {
    lost.set(page, await page.locator("#messages .error", { hasText: "connection lost" }).count());
  }
  await stopServer();
  for (const page of [alice, bob]) {
    await page.locator("#status.reconnecting", { hasText: "reconnecting" }).waitFor();
    // One more than before (bob's page has one from the blip).
    await page.locator("#messages .error", { hasText: "connection lost" }).nth(lost.get(page)).waitFor();
  }
  const reconnectingShot = join(shots, "chat-alice-reconnecting.png");
  await alice.screenshot({ path: reconnectingShot });
  console.log(`both pages are reconnecting (screenshot: ${reconnectingShot})`);
  if ((await startServer(port)) !== port) throw new Error(`the chat server is not back on ${port}`);
  console.log(`the chat server started again on port ${port}`);
  for (const [page, name] of [[alice, "alice"], [bob, "bob"]]) {
    await page.locator("#status.online").waitFor();
    await page.locator("#messages .notice", { hasText: `You joined as ${name}` }).nth(1).waitFor();
    if ((await page.locator("#status").textContent()) !== "connected") {
      throw new Error(`${name}'s page says it recovered after the restart`);
    }
    await currentRoomIs(page, "rust");
    await page.locator('#my-rooms li[data-room="general"]').waitFor();
  }
  await say(alice, "back again");
  await seeMessage(bob, "alice", "back again");
  await say(bob, "me too");
  await seeMessage(alice, "bob", "me too");
  await alice.locator("#online", { hasText: "2 online" }).waitFor();
  console.log("after the restart both pages reconnected, joined their rooms again and talk");

  const aliceShot = join(shots, "chat-alice.png");
  const bobShot = join(shots, "chat-bob.png");
  await alice.screenshot({ path: aliceShot });
  await bob.screenshot({ path: bobShot });
  console.log(`screenshots: ${aliceShot} ${bobShot}`);

  // Bob leaves #rust with its × button: his page goes back to #general; alice is told.
  // (Counted: the old server, shutting down, may have said so already.)
  await newNotice(alice, "bob left #rust", async () => {
    await bob.click('#my-rooms li[data-room="rust"] .room-leave');
    await currentRoomIs(bob, "general");
  });
  if (await bob.locator('#my-rooms li[data-room="rust"]').count() !== 0) {
    throw new Error("#rust stays in bob's rooms after leaving it");
  }
  console.log("bob left #rust");

  // Bob closes his page: alice is told in #general, the one room he was still in.
  await switchTo(alice, "general");
  await newNotice(alice, "bob left #general", () => bob.context().close());
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
