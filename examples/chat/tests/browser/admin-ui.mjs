// The Socket.IO Admin UI (the npm package `@socket.io/admin-ui`, its built files in
// `ui/dist`, served by the chat example at /admin-ui/ with ADMIN_UI_DIR) in headless Chromium,
// against the real chat example started with ADMIN_PASSWORD: the UI logs in, lists the chat's
// ws-json socket with its room and its own Socket.IO socket in /admin, and a disconnect clicked
// in the UI closes the chat page's socket (the page is offline: a server's disconnect is final).
//
// Usage: node admin-ui.mjs <chat binary> [screenshot directory]
// Run by examples/chat/tests/browser.rs. Exits 0 on success.

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const [binary, shotsArg] = process.argv.slice(2);
if (!binary) {
  console.error("usage: node admin-ui.mjs <chat binary> [screenshot directory]");
  process.exit(2);
}
const shots = shotsArg ?? mkdtempSync(join(tmpdir(), "nestgate-admin-"));
const here = dirname(fileURLToPath(import.meta.url));
const uiDir = join(here, "node_modules", "@socket.io", "admin-ui", "ui", "dist");
const STEP_TIMEOUT_MS = 15_000;
setTimeout(() => {
  console.error("FAILED: the whole run took more than 90 s");
  process.exit(1);
}, 90_000).unref();

// ---- the chat server, with the admin UI ------------------------------------------------------

const server = spawn(binary, [], {
  env: {
    ...process.env,
    PORT: "0",
    RUST_LOG: process.env.RUST_LOG ?? "warn",
    ADMIN_PASSWORD: "s3cret",
    ADMIN_UI_DIR: uiDir,
  },
  stdio: ["ignore", "pipe", "inherit"],
});
process.on("exit", () => server.kill("SIGKILL"));
const base = await new Promise((resolve, reject) => {
  let out = "";
  const timer = setTimeout(() => reject(new Error(`no "listening on": ${out}`)), STEP_TIMEOUT_MS);
  server.once("exit", (code) => reject(new Error(`the chat server exited (${code}): ${out}`)));
  server.stdout.setEncoding("utf8");
  server.stdout.on("data", (chunk) => {
    process.stdout.write(chunk.replace(/^(?=.)/gm, "[chat server] "));
    out += chunk;
    const match = /listening on (http:\/\/\S+)/.exec(out);
    if (match) {
      clearTimeout(timer);
      resolve(match[1]);
    }
  });
});
console.log(`chat with the admin UI at ${base}`);

// ---- the pages -------------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  headless: true,
  timeout: 60_000,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});

async function open(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  // The UI's fonts and icons come from CDNs: not needed, and maybe unreachable here.
  await context.route(/googleapis|jsdelivr/, (route) => route.abort());
  const page = await context.newPage();
  page.on("pageerror", (err) => console.log(`[page error] ${err.message}`));
  await page.goto(url, { waitUntil: "domcontentloaded" });
  return page;
}

try {
  // A chat page: a ws-json socket, joined and in #rust.
  const chat = await open(`${base}/`);
  await chat.locator("#status.online").waitFor();
  await chat.fill("#name", "alice");
  await chat.click("#join");
  await chat.locator("#text").waitFor({ state: "visible" });
  await chat.fill("#room", "rust");
  await chat.click("#join-room");
  await chat.locator("#current-room", { hasText: "#rust" }).waitFor();
  console.log("step: alice is in #rust");

  // The admin UI logs in.
  const ui = await open(`${base}/admin-ui/`);
  await ui.getByLabel("Server URL").fill(base);
  await ui.getByLabel("Username").fill("admin");
  await ui.getByLabel("Password").fill("s3cret");
  await ui.getByRole("button", { name: "Connect" }).click();
  await ui.getByRole("button", { name: "Connect" }).waitFor({ state: "hidden" });
  console.log("step: the UI is connected");

  // The sockets page lists alice's socket in /chat.
  await ui.goto(`${base}/admin-ui/#/sockets/`);
  // The namespace selector of the page now shown (the previous one may still be leaving).
  const selectNamespace = async (name) => {
    await ui.locator(".selector").last().click();
    await ui.locator(".menuable__content__active .v-list-item", { hasText: name }).first().click();
    await ui.locator(".selector").last().filter({ hasText: name }).waitFor();
  };
  await selectNamespace("/chat");
  const rows = ui.locator("tbody tr");
  await rows.first().waitFor();
  const firstRow = await rows.first().innerText();
  if (/no data/i.test(firstRow)) throw new Error("no socket listed in /chat");
  const aliceId = firstRow.trim().split(/\s+/)[0];
  console.log(`step: the UI lists alice's socket ${aliceId}`);
  await ui.screenshot({ path: join(shots, "admin-sockets.png") });

  // The rooms page has #rust.
  await ui.goto(`${base}/admin-ui/#/rooms/`);
  await ui.locator("tbody tr", { hasText: "rust" }).first().waitFor();
  console.log("step: the UI lists the room rust");

  // Its own Socket.IO socket, in /admin.
  await ui.goto(`${base}/admin-ui/#/sockets/`);
  await selectNamespace("/admin");
  await ui.locator("tbody tr", { hasText: "websocket" }).last().waitFor();
  console.log("step: the UI lists its own Socket.IO socket in /admin");

  // A disconnect clicked in the UI closes alice's socket: her page reconnects as a new one.
  await selectNamespace("/chat");
  // The page transition leaves the previous table a moment: the button of the one shown now.
  await ui.waitForTimeout(500);
  // The button's click also reaches its row, which opens the socket's page: it says the socket
  // is disconnected; back on the list, the socket is gone from it.
  await ui.locator("tbody tr:visible", { hasText: aliceId }).locator("button").click();
  await ui.getByText("disconnected", { exact: false }).first().waitFor();
  await ui.goto(`${base}/admin-ui/#/sockets/`);
  await selectNamespace("/chat");
  await ui.waitForFunction(
    (id) => ![...document.querySelectorAll("tbody tr")].some((row) => row.innerText.includes(id)),
    aliceId,
    { timeout: STEP_TIMEOUT_MS },
  );
  console.log("step: the UI's disconnect closed alice's socket");
  // A server's disconnect is final for the client (it does not reconnect by itself).
  await chat.locator("#status:not(.online)").waitFor();
  await ui.screenshot({ path: join(shots, "admin-after-disconnect.png") });
  console.log("OK");
  await browser.close();
  process.exit(0);
} catch (error) {
  for (const page of browser.contexts().flatMap((context) => context.pages())) {
    const rows = await page.evaluate(() => [...document.querySelectorAll("tbody tr")].map((row) => row.innerText));
    console.error("rows:", JSON.stringify(rows));
    await page.screenshot({ path: join(shots, `failed-${Date.now()}.png`) }).catch(() => {});
  }
  console.error("FAILED:", error);
  process.exit(1);
}
