// The Socket.IO Admin UI's protocol spoken by the real npm socket.io-client 4.8, as the UI
// speaks it, against the socketio-chat example started with ADMIN_PASSWORD=s3cret: a wrong
// password is refused with "invalid credentials"; the right one gets a session, the features
// and `all_sockets`, which lists a chat client with its room; a session id lets it back in.
//
// Usage: node admin.mjs http://127.0.0.1:PORT     (run by tests/admin.rs)
import { io } from "socket.io-client";
import assert from "node:assert/strict";

const base = process.argv[2];
assert.ok(base, "usage: node admin.mjs http://127.0.0.1:PORT");
setTimeout(() => {
  console.error("FAILED: the whole run took more than 30 s");
  process.exit(1);
}, 30_000).unref();

function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function admin(auth) {
  return io(`${base}/admin`, { auth, transports: ["websocket"], reconnection: false });
}

try {
  console.log("step: a wrong password is refused");
  const wrong = admin({ username: "admin", password: "nope" });
  const refused = await within(5000, new Promise((resolve) => wrong.once("connect_error", resolve)), "connect_error");
  assert.equal(refused.message, "invalid credentials");
  wrong.close();

  console.log("step: a chat client joins a room");
  const ann = io(`${base}/chat`, { auth: { name: "ann" }, transports: ["websocket"] });
  await within(5000, new Promise((resolve) => ann.once("connect", resolve)), "ann connects");
  assert.equal(await ann.timeout(5000).emitWithAck("join", "lobby"), "lobby");

  console.log("step: the right password: session, config, all_sockets");
  const ui = admin({ username: "admin", password: "s3cret" });
  const session = new Promise((resolve) => ui.once("session", resolve));
  const config = new Promise((resolve) => ui.once("config", resolve));
  const all = new Promise((resolve) => ui.once("all_sockets", resolve));
  await within(5000, new Promise((resolve) => ui.once("connect", resolve)), "the UI connects");
  const sessionId = await within(5000, session, "session");
  assert.match(sessionId, /^[0-9a-f]{16}$/);
  const { supportedFeatures } = await within(5000, config, "config");
  assert.ok(supportedFeatures.includes("MDISCONNECT"), supportedFeatures);
  const sockets = await within(5000, all, "all_sockets");
  const listed = sockets.find((socket) => socket.id === ann.id);
  assert.ok(listed, JSON.stringify(sockets));
  assert.equal(listed.nsp, "/chat");
  assert.ok(listed.rooms.includes("lobby"), listed.rooms);

  console.log("step: the stats come");
  const stats = await within(5000, new Promise((resolve) => ui.once("server_stats", resolve)), "server_stats");
  assert.ok(stats.namespaces.some((namespace) => namespace.name === "/chat"), JSON.stringify(stats));

  console.log("step: the session lets it back in");
  const again = admin({ sessionId });
  await within(5000, new Promise((resolve) => again.once("connect", resolve)), "back with the session");
  again.close();
  ui.close();
  ann.close();
  console.log("OK");
  process.exit(0);
} catch (error) {
  console.error("FAILED:", error);
  process.exit(1);
}
