// Talks to the socketio-chat example with the real socket.io-client v4 (default options:
// HTTP long-polling first, then the upgrade to WebSocket) and with a ws-json client.
// Usage: node interop.mjs http://127.0.0.1:PORT
// Prints "RESTART" when it wants the server restarted on the same port, then expects the
// socket.io client to reconnect by itself. Exits non-zero with a message on any failure.
import { io } from "socket.io-client";
import WebSocket from "ws";
import assert from "node:assert/strict";

const base = process.argv[2];
assert.ok(base, "usage: node interop.mjs http://127.0.0.1:PORT");
const wsBase = base.replace("http", "ws");

function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, resolve));
}

function step(name) {
  console.log(`step: ${name}`);
}

/// A ws-json client: frames are {"event","data","id"}.
async function wsJson(name) {
  const ws = new WebSocket(`${wsBase}/chat?name=${name}`);
  await within(5000, once(ws, "open"), "ws-json open");
  const frames = [];
  const waiters = [];
  ws.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    const waiter = waiters.findIndex((w) => w.match(frame));
    if (waiter >= 0) waiters.splice(waiter, 1)[0].resolve(frame);
    else frames.push(frame);
  });
  const next = (match) => {
    const index = frames.findIndex(match);
    if (index >= 0) return Promise.resolve(frames.splice(index, 1)[0]);
    return new Promise((resolve) => waiters.push({ match, resolve }));
  };
  let id = 0;
  return {
    ws,
    next,
    request: (event, data) => {
      id += 1;
      const mine = id;
      ws.send(JSON.stringify({ event, data, id: mine }));
      return within(5000, next((f) => f.ack === mine), `ws-json ${event}`);
    },
    send: (event, data) => ws.send(JSON.stringify({ event, data })),
  };
}

async function main() {
  step("a connection without a name is refused with CONNECT_ERROR");
  const refused = io(`${base}/chat`, { reconnection: false });
  const error = await within(5000, once(refused, "connect_error"), "connect_error");
  assert.equal(error.message, "name required");
  refused.close();

  step("connect with auth over polling, then upgrade to WebSocket");
  const ann = io(`${base}/chat`, { auth: { name: "ann" }, reconnectionDelay: 200, reconnectionDelayMax: 1000 });
  const transports = [];
  const upgraded = new Promise((resolve) => {
    ann.io.once("open", () => {
      transports.push(ann.io.engine.transport.name);
      ann.io.engine.once("upgrade", (transport) => {
        transports.push(transport.name);
        resolve();
      });
    });
  });
  await within(5000, once(ann, "connect"), "connect");
  await within(5000, upgraded, "upgrade to websocket");
  assert.deepEqual(transports, ["polling", "websocket"], "socket.io-client starts with polling, then upgrades");

  step("emit with ack");
  assert.equal(await within(5000, ann.emitWithAck("whoami"), "whoami"), "ann");
  assert.equal(await within(5000, ann.emitWithAck("join", "lobby"), "join"), "lobby");
  const badJoin = await within(5000, ann.emitWithAck("join", ""), "join error");
  assert.deepEqual(badJoin, { status: "error", message: "a room name has 1 to 64 characters" });

  step("a room broadcast reaches a ws-json client and socket.io clients alike");
  const bob = await wsJson("bob");
  assert.deepEqual((await bob.request("join", "lobby")).data, "lobby");
  const cid = io(`${base}/chat`, { auth: { name: "cid" }, transports: ["websocket"] });
  await within(5000, once(cid, "connect"), "cid connect");
  assert.equal(await within(5000, cid.emitWithAck("join", "lobby"), "cid join"), "lobby");

  const annHears = once(ann, "message");
  const cidHears = once(cid, "message");
  assert.equal(await within(5000, ann.emitWithAck("message", { room: "lobby", text: "hi" }), "message"), true);
  const toBob = await within(5000, bob.next((f) => f.event === "message"), "bob hears ann");
  assert.deepEqual(toBob, { event: "message", data: { from: "ann", text: "hi" } });
  assert.deepEqual(await within(5000, annHears, "ann hears ann"), { from: "ann", text: "hi" });
  assert.deepEqual(await within(5000, cidHears, "cid hears ann"), { from: "ann", text: "hi" });

  const annHearsBob = once(ann, "message");
  bob.send("message", { room: "lobby", text: "hello from ws-json" });
  assert.deepEqual(await within(5000, annHearsBob, "ann hears bob"), { from: "bob", text: "hello from ws-json" });

  step("binary attachments both ways");
  const cidGetsFile = once(cid, "file");
  const length = await within(5000, ann.emitWithAck("file", "lobby", Buffer.from([1, 2, 3, 250])), "file");
  assert.equal(length, 4);
  const file = await within(5000, cidGetsFile, "cid gets the file");
  assert.equal(file.from, "ann");
  assert.deepEqual([...new Uint8Array(file.content)], [1, 2, 3, 250]);
  const bobsFile = await within(5000, bob.next((f) => f.event === "file"), "bob gets the file");
  assert.deepEqual(bobsFile.data.content, { $binary: Buffer.from([1, 2, 3, 250]).toString("base64") });

  step("reconnect after the server restarts");
  bob.ws.close();
  cid.close();
  const reconnected = once(ann, "connect");
  console.log("RESTART");
  await within(20000, reconnected, "reconnect after the restart");
  assert.equal(await within(5000, ann.emitWithAck("whoami"), "whoami after reconnect"), "ann");
  ann.close();
  console.log("OK");
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`FAILED: ${err.stack || err}`);
    process.exit(1);
  },
);
