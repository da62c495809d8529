// Connection-state recovery with the real npm socket.io-client 4.8, over WebSocket and over
// HTTP long-polling: a TCP proxy between ann and the socketio-chat example (started with
// RECOVERY=1) cuts her connection while bob writes to their room; ann's client reconnects by
// itself, reports `socket.recovered === true`, and gets every missed message once, in order,
// then live ones again (she is back in the room). A client that comes back through a fresh
// server session it cannot recover (an unknown pid) starts fresh with `recovered === false`.
//
// With a second URL, the two servers are nodes of one cluster on Redis: bob is a client of the
// second, and ann comes back through the proxy to the second node, and recovers there.
//
// Usage: node recovery.mjs http://127.0.0.1:PORT [http://127.0.0.1:OTHER]   (run by tests/recovery.rs)
import { io } from "socket.io-client";
import net from "node:net";
import assert from "node:assert/strict";

const base = process.argv[2];
assert.ok(base, "usage: node recovery.mjs http://127.0.0.1:PORT [http://127.0.0.1:OTHER]");
const other = process.argv[3];

setTimeout(() => {
  console.error("FAILED: the whole run took more than 60 s");
  process.exit(1);
}, 60_000).unref();

function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP proxy to the server: `cut()` destroys every connection through it, both ways;
 * `switch(url)` sends the next ones to another server. */
async function proxy() {
  const open = new Set();
  let upstream = new URL(base);
  const server = net.createServer((client) => {
    const target = net.connect(Number(upstream.port), upstream.hostname);
    open.add(client);
    open.add(target);
    const drop = () => {
      client.destroy();
      target.destroy();
      open.delete(client);
      open.delete(target);
    };
    client.on("error", drop).on("close", drop);
    target.on("error", drop).on("close", drop);
    client.pipe(target);
    target.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      for (const socket of open) socket.destroy();
      open.clear();
    },
    switch(url) {
      upstream = new URL(url);
    },
    close() {
      this.cut();
      server.close();
    },
  };
}

function connect(url, name, transports) {
  const socket = io(`${url}/chat`, {
    auth: { name },
    transports,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
  });
  return within(5000, new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  }), `${name} connects`);
}

async function scenario(transports) {
  const label = transports.join("+") + (other ? ", across nodes" : "");
  console.log(`step: ${label}: connect through the proxy, join the room`);
  const cutter = await proxy();
  const ann = await connect(cutter.url, "ann", transports);
  const bob = await connect(other ?? base, "bob", ["websocket"]);
  assert.equal(ann.recovered, false, "a first connection is not a recovery");
  const seen = [];
  ann.on("message", (said, offset) => {
    assert.equal(typeof offset, "string", "a stored message carries its offset as its last argument");
    seen.push(said.text);
  });
  assert.equal(await ann.timeout(5000).emitWithAck("join", "r"), "r");
  assert.equal(await bob.timeout(5000).emitWithAck("join", "r"), "r");
  assert.equal(await bob.timeout(5000).emitWithAck("message", { room: "r", text: "before" }), true);
  await within(5000, (async () => { while (!seen.includes("before")) await sleep(10); })(), "the live message");
  const firstId = ann.id;

  console.log(`step: ${label}: cut, and write while ann is away`);
  const disconnected = new Promise((resolve) => ann.once("disconnect", resolve));
  if (other) cutter.switch(other);
  cutter.cut();
  const reason = await within(10_000, disconnected, "ann sees the cut");
  assert.ok(reason === "transport close" || reason === "transport error", reason);
  for (let n = 1; n <= 10; n++) {
    assert.equal(await bob.timeout(5000).emitWithAck("message", { room: "r", text: `m${n}` }), true);
  }

  console.log(`step: ${label}: ann comes back recovered`);
  await within(10_000, new Promise((resolve) => ann.once("connect", resolve)), "ann reconnects");
  assert.equal(ann.recovered, true, "socket.recovered after the cut");
  assert.equal(ann.id, firstId, "the recovered socket keeps its id");
  const expected = ["before", ...Array.from({ length: 10 }, (_, i) => `m${i + 1}`)];
  await within(5000, (async () => { while (seen.length < expected.length) await sleep(10); })(), "the missed messages");
  assert.equal(await bob.timeout(5000).emitWithAck("message", { room: "r", text: "after" }), true);
  await within(5000, (async () => { while (!seen.includes("after")) await sleep(10); })(), "a live message after");
  await sleep(200);
  assert.deepEqual(seen, [...expected, "after"], "each message once, in order, and back in the room");
  ann.disconnect();
  bob.disconnect();
  cutter.close();
}

async function unknownSession() {
  console.log("step: an unknown pid starts fresh");
  const socket = io(`${base}/chat`, { auth: { name: "cy" }, transports: ["websocket"] });
  // What a client presents after a server restart: a session the server does not know.
  socket._pid = "no-such-session";
  socket._lastOffset = "00000000-1";
  await within(5000, new Promise((resolve) => socket.once("connect", resolve)), "cy connects");
  assert.equal(socket.recovered, false);
  assert.notEqual(socket._pid, "no-such-session", "a fresh session");
  socket.disconnect();
}

try {
  await scenario(["websocket"]);
  await scenario(["polling"]);
  if (!other) await unknownSession();
  console.log("OK");
  process.exit(0);
} catch (error) {
  console.error("FAILED:", error);
  process.exit(1);
}
