// The real socket.io-client v4 against nestgate's token refresh (`nestgate::refresh`): the
// server's `nestgate:refresh` is answered through the client's ack callback, the client
// refreshes by itself with `emitWithAck`, and an unanswered request ends in the `exception`
// event and a server disconnect, after which the client connects again with a fresh token.
// Usage: node refresh.mjs http://127.0.0.1:PORT (run by nestgate's tests/tests/refresh/socketio.rs
// against a server whose guard reads tokens `NAME` or `NAME.MILLIS`, valid for MILLIS).
// Exits non-zero with a message on any failure; prints "OK" at the end.
import { io } from "socket.io-client";
import assert from "node:assert/strict";

const base = process.argv[2];
assert.ok(base, "usage: node refresh.mjs http://127.0.0.1:PORT");

function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  // 1. The server asks before the 2 s token expires; the ack callback answers with a new one.
  const socket = io(base, { auth: { token: "ann.2000" }, reconnection: false, forceNew: true });
  const asked = new Promise((resolve) => {
    socket.on("nestgate:refresh", (request, ack) => {
      assert.equal(typeof request.expiresAt, "number", JSON.stringify(request));
      ack({ token: "bob.60000" });
      resolve(request);
    });
  });
  await within(5000, once(socket, "connect"), "connect");
  assert.equal(await socket.emitWithAck("whoami"), "ann");
  await within(10000, asked, "the server's refresh request");
  await sleep(2500); // past the first token's expiry
  assert.ok(socket.connected, "still connected after the first token expired");
  assert.equal(await socket.emitWithAck("whoami"), "bob");
  console.log("step: refreshed through the ack callback");

  // 2. The client refreshes by itself.
  const answer = await socket.emitWithAck("nestgate:refresh", { token: "carl.60000" });
  assert.ok(answer.expiresAt > Date.now() + 50000, JSON.stringify(answer));
  assert.equal(await socket.emitWithAck("whoami"), "carl");
  const refused = await socket.emitWithAck("nestgate:refresh", { token: "eve.60000" });
  assert.deepEqual(refused, { status: "error", message: "refresh refused: unknown user eve" });
  assert.equal(await socket.emitWithAck("whoami"), "carl");
  socket.disconnect();
  console.log("step: refreshed by itself");

  // 3. A client that does not answer: the exception event, then a server disconnect.
  const silent = io(base, { auth: { token: "dan.1500" }, reconnection: false, forceNew: true });
  const exception = once(silent, "exception");
  const gone = once(silent, "disconnect");
  await within(5000, once(silent, "connect"), "connect");
  const [error] = await within(10000, exception, "the exception event");
  assert.deepEqual(error, { status: "error", message: "token expired" });
  const [reason] = await within(5000, gone, "the disconnect");
  assert.equal(reason, "io server disconnect");
  console.log("step: expired without an answer");

  // 4. It connects again, on the same Engine.IO session, with a fresh token.
  silent.auth = { token: "dan.60000" };
  silent.connect();
  await within(5000, once(silent, "connect"), "connect again");
  assert.equal(await silent.emitWithAck("whoami"), "dan");
  silent.disconnect();
  console.log("step: connected again with a fresh token");
  console.log("OK");
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`FAIL: ${err.stack ?? err}`);
    process.exit(1);
  },
);
