// Starts the real nestgate server the client is tested against (`examples/clients`), built by
// cargo when it is not yet (or `NESTGATE_CLIENTS_SERVER` names the binary).
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
let binary = process.env.NESTGATE_CLIENTS_SERVER;

function serverBinary() {
  if (binary) {
    return binary;
  }
  const target = process.env.CARGO_TARGET_DIR ?? path.join(root, "target");
  binary = path.join(target, "debug", process.platform === "win32" ? "clients.exe" : "clients");
  if (!existsSync(binary) || process.env.CI === "true") {
    // Under CI the binary is built fresh (cargo does nothing when it is up to date).
    execFileSync("cargo", ["build", "--quiet", "-p", "clients"], { cwd: root, stdio: "inherit" });
  }
  return binary;
}

/**
 * A running server: `url` (ws://127.0.0.1:PORT/), `port`, `stop()`, `restart()` on the same
 * port. A given port is retried for up to 10 s while the previous process's socket lingers.
 * `env`: more environment for the server (`{ RECOVERY: "1" }`), kept by `restart()`.
 */
export async function startServer(port = 0, env = {}) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await startOnce(port, env);
    } catch (error) {
      if (port === 0 || Date.now() > deadline) {
        throw error;
      }
      await sleep(200);
    }
  }
}

async function startOnce(port, env) {
  const child = spawn(serverBinary(), [], {
    env: { ...process.env, PORT: String(port), RUST_LOG: process.env.RUST_LOG ?? "warn", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const address = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the clients server did not start: ${out}`)), 30_000);
    child.once("exit", (code) => reject(new Error(`the clients server exited with ${code}: ${out}`)));
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = /listening on http:\/\/(\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  const actualPort = Number(address.split(":").pop());
  const server = {
    url: `ws://${address}/`,
    port: actualPort,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    },
    /** Starts the server again on the same port. */
    async restart() {
      await server.stop();
      return startServer(actualPort, env);
    },
  };
  return server;
}

/** Resolves with the arguments of the next `event` the socket emits. */
export function next(socket, event, timeout = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${timeout} ms`)), timeout);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
