// Connection-state recovery, against the real server of examples/clients started with
// RECOVERY=1 (the Rust client's tests/recovery.rs, for this client): a TCP proxy between them
// cuts the connection (no close frame) while broadcasts go on; the client comes back and gets
// every missed message once, in order, and is in its rooms again, or is told it was not
// recovered, and gets nothing replayed.
import { test } from "node:test";
import net from "node:net";
import assert from "node:assert/strict";
import { connect } from "../dist/index.js";
import { next, sleep, startServer } from "./server.mjs";

/** How long one step may wait for what it expects. */
const STEP = 10_000;

/** Quick, regular reconnects, so that the tests do not wait on the backoff. */
const QUICK = { reconnect: { initialDelay: 100, maxDelay: 400, jitter: 0 } };

/**
 * A TCP proxy in front of the server on `port`: `cut()` drops every connection through it at
 * once, as a network that goes away does (no close frame); `refuse(true)` turns new connections
 * away.
 */
async function startProxy(port) {
  const connections = new Set();
  let refusing = false;
  const proxy = net.createServer((client) => {
    client.on("error", () => {});
    if (refusing) {
      client.destroy(); // The client sees its connection attempt fail.
      return;
    }
    const server = net.connect(port, "127.0.0.1");
    server.on("error", () => {});
    const pair = [client, server];
    connections.add(pair);
    const drop = () => {
      connections.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on("close", drop);
    server.on("close", drop);
    client.pipe(server);
    server.pipe(client);
  });
  await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${proxy.address().port}/`,
    cut() {
      for (const [client, server] of connections) {
        client.destroy();
        server.destroy();
      }
      connections.clear();
    },
    refuse(on) {
      refusing = on;
    },
    close() {
      this.cut();
      proxy.close();
    },
  };
}

/**
 * Everything `socket` hears, in order: its events as `[event, data]`, and its `registered`
 * lifecycle events as `["registered", info]` (so that the replay is seen to come after it).
 */
function record(socket) {
  const seen = [];
  let heard = () => {};
  const push = (entry) => {
    seen.push(entry);
    heard();
  };
  socket.onAny((event, data) => push([event, data]));
  socket.on("registered", (info) => push(["registered", info]));
  /**
   * What comes within `quiet` ms of each other (taken): the first within `first` ms, unless
   * something came already.
   */
  async function take(quiet, first = STEP) {
    let wait = seen.length > 0 ? quiet : first;
    for (;;) {
      const before = seen.length;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, wait);
        heard = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      heard = () => {};
      if (seen.length === before) {
        return seen.splice(0);
      }
      wait = quiet;
    }
  }
  return { take };
}

/** Starts the server with recovery on (and `env`), a proxy in front of it, and a client through it. */
async function setUp(t, env = {}) {
  const server = await startServer(0, { RECOVERY: "1", ...env });
  t.after(() => server.stop());
  const proxy = await startProxy(server.port);
  t.after(() => proxy.close());
  const client = connect(proxy.url, QUICK);
  t.after(() => client.close());
  const heard = record(client);
  assert.deepEqual(await heard.take(100), [["registered", { recovered: false }]]);
  assert.deepEqual(await client.request("join", "r"), ["r"]);
  // Another client, straight to the server: it sends while the first one is away.
  const other = connect(server.url);
  t.after(() => other.close());
  await next(other, "connect");
  return { server, proxy, client, heard, other };
}

/** Cuts the client's connection and keeps it from coming back until `proxy.refuse(false)`. */
async function cut(proxy, client) {
  const disconnected = next(client, "disconnect", STEP);
  proxy.refuse(true);
  proxy.cut();
  const [info] = await disconnected;
  assert.equal(info.willReconnect, true);
}

const tick = (room, data) => ({ room, event: "tick", data });

test("a cut connection comes back with every missed message once, in order, and its rooms", async (t) => {
  const { proxy, client, heard, other } = await setUp(t);
  // Before the cut: live.
  await other.request("to", tick("r", 0));
  assert.deepEqual(await heard.take(200), [["tick", 0]]);
  // A message for this socket alone, sent while it is away.
  await client.request("later", { event: "direct", data: "d", ms: 300 });

  await cut(proxy, client);
  // While it is away: to its room, to everyone, and to another room (not for it).
  for (let n = 1; n <= 20; n++) {
    await other.request("to", tick("r", n));
  }
  await other.request("say", "to all");
  await other.request("to", tick("elsewhere", -1));
  await sleep(400); // The direct message goes out meanwhile.
  proxy.refuse(false);

  const expected = [["registered", { recovered: true }]];
  for (let n = 1; n <= 20; n++) expected.push(["tick", n]);
  expected.push(["said", "to all"], ["direct", "d"]);
  assert.deepEqual(await heard.take(300), expected);
  // Back in its room, with its id: live again, and nothing twice.
  await other.request("to", tick("r", 21));
  assert.deepEqual(await heard.take(300), [["tick", 21]]);
  assert.deepEqual(await client.request("join", "r"), ["r"]);
});

test("past the window nothing is replayed, and the client is told", async (t) => {
  const { proxy, client, heard, other } = await setUp(t, { RECOVERY_WINDOW_MS: "300" });
  await cut(proxy, client);
  await other.request("to", tick("r", 1));
  await sleep(800);
  proxy.refuse(false);
  const [[event, info], ...rest] = await heard.take(500);
  assert.equal(event, "registered");
  assert.equal(info.recovered, false);
  assert.ok(info.reason === "expired" || info.reason === "unknown_session", info.reason);
  assert.deepEqual(rest, []);
  // A fresh socket: not in the room any more.
  assert.deepEqual(await client.request("join", "s"), ["s"]);
});

test("a log trimmed past the client's offset is a gap, and nothing is replayed", async (t) => {
  const { proxy, client, heard, other } = await setUp(t, { RECOVERY_MAX_MESSAGES: "5" });
  await cut(proxy, client);
  for (let n = 1; n <= 10; n++) {
    await other.request("to", tick("r", n));
  }
  proxy.refuse(false);
  assert.deepEqual(await heard.take(500), [["registered", { recovered: false, reason: "gap" }]]);
});

test("close() forgets the session: connect() afterwards starts fresh", async (t) => {
  const { client, heard } = await setUp(t);
  client.close();
  client.connect();
  // Not "unknown_session": the client did not ask to recover.
  assert.deepEqual(await heard.take(200), [["registered", { recovered: false }]]);
  assert.deepEqual(await client.request("join", "s"), ["s"]);
});

test("a server without recovery sends no registration, and nothing else changes", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const client = connect(server.url, QUICK);
  t.after(() => client.close());
  const heard = record(client);
  await next(client, "connect");
  await client.request("say", "hi");
  assert.deepEqual(await heard.take(200), [["said", "hi"]]);
});
