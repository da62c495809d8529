// @nestgate/client against the real nestgate server of examples/clients, over loopback.
import { test } from "node:test";
import net from "node:net";
import assert from "node:assert/strict";
import {
  connect,
  DisconnectedError,
  QueueFullError,
  ServerError,
  TimeoutError,
} from "../dist/index.js";
import { next, sleep, startServer } from "./server.mjs";

/** Connects and waits for `connect`. */
async function connected(url, options = {}) {
  const socket = connect(url, options);
  await next(socket, "connect");
  return socket;
}

test("a request is answered with the handler's value", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const socket = await connected(server.url);
  t.after(() => socket.close());
  assert.deepEqual(await socket.request("echo", { a: [1, "two"] }), { a: [1, "two"] });
  assert.equal(await socket.request("echo", "text"), "text");
  // Concurrent requests are told apart by their ids.
  const answers = await Promise.all([3, 1, 2].map((ms) => socket.request("sleep", ms * 20)));
  assert.deepEqual(answers, [60, 20, 40]);
});

test("a server exception rejects the request with ServerError", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const socket = await connected(server.url);
  t.after(() => socket.close());
  const error = await socket.request("fail", "no such auction").then(
    () => assert.fail("resolved"),
    (error) => error,
  );
  assert.ok(error instanceof ServerError, String(error));
  assert.equal(error.message, "no such auction");
  assert.equal(error.status, "error");
  // An emit without an id gets the exception event instead.
  const exception = next(socket, "exception");
  socket.emit("fail", "as an event");
  const [data] = await exception;
  assert.equal(data.message, "as an event");
  assert.equal(data.cause.pattern, "fail");
});

test("a request with no answer in time rejects with TimeoutError", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const socket = await connected(server.url);
  t.after(() => socket.close());
  const started = Date.now();
  await assert.rejects(socket.request("sleep", 5_000, { timeout: 200 }), TimeoutError);
  const waited = Date.now() - started;
  assert.ok(waited >= 190 && waited < 2_000, `waited ${waited} ms`);
  // The late answer is ignored, and the socket goes on.
  assert.equal(await socket.request("echo", 1), 1);
});

test("the server's own request is answered through ack", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const socket = await connected(server.url);
  t.after(() => socket.close());
  socket.on("question", (data, ack) => ack({ doubled: data * 2 }));
  assert.deepEqual(await socket.request("ask", { event: "question", data: 21 }), { doubled: 42 });
});

test("events reach on, once and onAny; off stops them", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const socket = await connected(server.url);
  t.after(() => socket.close());
  const seen = [];
  const listener = (data) => seen.push(["on", data]);
  socket.on("said", listener);
  socket.once("said", (data) => seen.push(["once", data]));
  socket.onAny((event, data) => seen.push(["any", event, data]));
  await socket.request("say", 1);
  await socket.request("say", 2);
  socket.off("said", listener);
  await socket.request("say", 3);
  await socket.request("echo", "flush");
  assert.deepEqual(seen, [
    ["on", 1],
    ["once", 1],
    ["any", "said", 1],
    ["on", 2],
    ["any", "said", 2],
    ["any", "said", 3],
  ]);
});

test("auth is sent in the query, or as a header in Node, and a function is called for each attempt", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const query = await connected(server.url, { auth: "t1" });
  t.after(() => query.close());
  assert.deepEqual(await query.request("whoami"), { token: "t1", via: "query" });
  const header = await connected(server.url, { auth: "t2", authIn: "header" });
  t.after(() => header.close());
  assert.deepEqual(await header.request("whoami"), { token: "t2", via: "header" });
  let calls = 0;
  const fresh = await connected(server.url, { auth: async () => `fresh-${++calls}`, reconnect: { initialDelay: 50, jitter: 0 } });
  t.after(() => fresh.close());
  assert.deepEqual(await fresh.request("whoami"), { token: "fresh-1", via: "query" });
  // Kicked with a code that is not final: it reconnects, with a new token.
  const reconnected = next(fresh, "connect");
  await fresh.request("kick", { code: 1011, reason: "try again" }).catch(() => {});
  await reconnected;
  assert.deepEqual(await fresh.request("whoami"), { token: "fresh-2", via: "query" });
});

test("when the server asks for a fresh token, auth() is called and the socket lives on", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  let calls = 0;
  const socket = await connected(server.url, { auth: () => `short-${++calls}` });
  t.after(() => socket.close());
  let disconnects = 0;
  socket.on("disconnect", () => disconnects++);
  assert.deepEqual(await socket.request("whoami"), { token: "short-1", via: "query" });
  // Asked after 1 s, expired after 2 s without an answer: refreshed at least once by then.
  await sleep(2_500);
  assert.equal(disconnects, 0);
  const { token } = await socket.request("whoami");
  assert.match(token, /^short-[2-9]$/);
  assert.ok(calls >= 2);
});

test("after the server restarts the client reconnects with growing delays, and what was queued goes out", async (t) => {
  let server = await startServer();
  t.after(() => server.stop());
  const socket = await connected(server.url, {
    reconnect: { initialDelay: 100, factor: 2, jitter: 0, maxDelay: 2_000 },
  });
  t.after(() => socket.close());
  const delays = [];
  socket.on("reconnecting", ({ attempt, delay }) => delays.push([attempt, delay]));
  const disconnected = next(socket, "disconnect");
  // A request in flight when the server dies: rejected, not sent again.
  const inFlight = assert.rejects(socket.request("sleep", 10_000, { timeout: 20_000 }), DisconnectedError);
  await sleep(100);
  await server.stop();
  const [info] = await disconnected;
  assert.equal(info.willReconnect, true);
  await inFlight;
  // While down: queued.
  const queuedRequest = socket.request("echo", "sent while down", { timeout: 15_000 });
  assert.equal(socket.queued, 1);
  await sleep(800);
  server = await startServer(server.port);
  await next(socket, "connect");
  assert.equal(await queuedRequest, "sent while down");
  assert.ok(delays.length >= 3, JSON.stringify(delays));
  for (const [index, [attempt, delay]] of delays.entries()) {
    assert.equal(attempt, index + 1);
    assert.equal(delay, Math.min(2_000, 100 * 2 ** index), JSON.stringify(delays));
  }
});

test("the offline queue is bounded, and its frames expire", async (t) => {
  const server = await startServer();
  const port = server.port;
  await server.stop();
  // Nothing listens: the client keeps trying, and queues meanwhile.
  const socket = connect(`ws://127.0.0.1:${port}/`, {
    queue: { maxItems: 2, maxBytes: 1_000, timeout: 300 },
    reconnect: { initialDelay: 50, jitter: 0 },
  });
  t.after(() => socket.close());
  socket.on("error", () => {});
  const first = socket.request("echo", 1, { timeout: 5_000 });
  const second = socket.request("echo", 2, { timeout: 200 });
  await assert.rejects(socket.request("echo", 3), QueueFullError);
  assert.throws(() => socket.emit("echo", 4), QueueFullError);
  // A request waits its own timeout in the queue.
  await assert.rejects(second, /waiting for the connection/);
  assert.equal(socket.queued, 1);
  // Bytes count too.
  await assert.rejects(socket.request("echo", "x".repeat(2_000)), /bytes/);
  // An emit expires after the queue's timeout, reported with the error event.
  socket.off("error");
  const dropped = next(socket, "error");
  socket.emit("echo", 5);
  const [error] = await dropped;
  assert.ok(error instanceof TimeoutError, String(error));
  // Closing rejects what is still queued.
  socket.close();
  await assert.rejects(first, DisconnectedError);
});

test("no reconnect after a close the server marks as final", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  for (const [options, code] of [
    // Refused by the connection hook: 1008.
    [{ auth: "banned" }, 1008],
    // Kicked with an application code.
    [{ kick: { code: 4000, reason: "bye" } }, 4000],
    // Closed normally by the server.
    [{ kick: { code: 1000, reason: "done" } }, 1000],
  ]) {
    const socket = connect(server.url, { auth: options.auth, reconnect: { initialDelay: 20 } });
    t.after(() => socket.close());
    let reconnecting = 0;
    socket.on("reconnecting", () => reconnecting++);
    const exceptions = [];
    socket.on("exception", (data) => exceptions.push(data.message));
    if (options.kick) {
      await next(socket, "connect");
      socket.emit("kick", options.kick);
    }
    const [info] = await next(socket, "disconnect");
    assert.equal(info.code, code);
    assert.equal(info.willReconnect, false);
    await sleep(200);
    assert.equal(reconnecting, 0);
    assert.equal(socket.state, "closed");
    if (code === 1008) {
      assert.deepEqual(exceptions, ["banned"]);
    }
  }
});

test("a handshake refused with HTTP 401 is final in Node", async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const socket = connect(server.url, { auth: "bad", reconnect: { initialDelay: 20 } });
  t.after(() => socket.close());
  let reconnecting = 0;
  socket.on("reconnecting", () => reconnecting++);
  const [info] = await next(socket, "disconnect");
  assert.equal(info.reason, "handshake refused: HTTP 401");
  assert.equal(info.willReconnect, false);
  await sleep(200);
  assert.equal(reconnecting, 0);
});

test("reconnection gives up after its attempts", async (t) => {
  const server = await startServer();
  const port = server.port;
  await server.stop();
  const socket = connect(`ws://127.0.0.1:${port}/`, { reconnect: { initialDelay: 20, jitter: 0, attempts: 3 } });
  t.after(() => socket.close());
  const queued = socket.request("echo", 1);
  const [{ attempts }] = await next(socket, "reconnect_failed");
  assert.equal(attempts, 3);
  assert.equal(socket.state, "closed");
  await assert.rejects(queued, DisconnectedError);
});

test("a handshake that never finishes times out and is retried, and close() during it is quiet", async (t) => {
  // A TCP server that accepts and never answers: the WebSocket stays in its handshake.
  const sockets = new Set();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise((resolve) => silent.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const url = `ws://127.0.0.1:${silent.address().port}/`;
  const socket = connect(url, { connectTimeout: 100, reconnect: { initialDelay: 20, jitter: 0 } });
  // The attempt times out (aborting a handshake under way: the `ws` package emits an error for
  // it, which must not reach the process) and the next one is scheduled.
  const [{ attempt }] = await next(socket, "reconnecting");
  assert.equal(attempt, 1);
  // Closed while the next attempt is still in its handshake.
  await next(socket, "reconnecting");
  await sleep(50);
  socket.close();
  assert.equal(socket.state, "closed");
  await sleep(100);
});
