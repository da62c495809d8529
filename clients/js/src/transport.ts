/**
 * The `WebSocket` the client runs on: the one passed as an option, the global one (browsers,
 * Deno, Bun, Node 22+), or the `ws` package when it is installed (Node 20).
 */

/** What this client needs of a WebSocket: the WHATWG interface. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
}

/** A `WebSocket` constructor: `new WebSocket(url, protocols)` (the `ws` package's takes options too). */
export type WebSocketConstructor = new (url: string, ...rest: any[]) => WebSocketLike;

/** `WebSocket.OPEN`. */
export const OPEN = 1;

/** The `ws` package's EventEmitter side, where it has one: it tells the HTTP status of a refused handshake. */
interface WsPackageSocket {
  on(event: "unexpected-response", listener: (request: unknown, response: { statusCode?: number }) => void): void;
  terminate(): void;
}

let fromPackage: Promise<WebSocketConstructor | undefined> | undefined;

/** Whether this runs in Node (where a handshake may carry headers). */
export function isNode(): boolean {
  const process = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof process?.versions?.node === "string";
}

/** The constructor to use, and whether it is the `ws` package's. */
export async function resolveWebSocket(
  given: WebSocketConstructor | undefined,
): Promise<{ WebSocket: WebSocketConstructor; wsPackage: boolean }> {
  if (given) {
    return { WebSocket: given, wsPackage: isWsPackage(given) };
  }
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) {
    return { WebSocket: global, wsPackage: false };
  }
  // A name in a variable: bundlers for the browser must not try to resolve it.
  const name = "ws";
  fromPackage ??= import(/* @vite-ignore */ /* webpackIgnore: true */ name).then(
    (module: { WebSocket?: WebSocketConstructor; default?: WebSocketConstructor }) => module.WebSocket ?? module.default,
    () => undefined,
  );
  const ws = await fromPackage;
  if (!ws) {
    throw new Error(
      "no WebSocket: this runtime has no global WebSocket and the `ws` package is not installed (npm install ws), nor was one passed as the `WebSocket` option",
    );
  }
  return { WebSocket: ws, wsPackage: true };
}

function isWsPackage(constructor: WebSocketConstructor): boolean {
  const prototype = constructor.prototype as Partial<WsPackageSocket> | undefined;
  return typeof prototype?.terminate === "function" && typeof prototype?.on === "function";
}

/** Opens a WebSocket with the given headers where the runtime allows them (Node). */
export function open(
  WebSocket: WebSocketConstructor,
  wsPackage: boolean,
  url: string,
  protocols: string | string[] | undefined,
  headers: Record<string, string> | undefined,
): WebSocketLike {
  if (!headers) {
    return protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  }
  if (wsPackage) {
    return new WebSocket(url, protocols ?? [], { headers });
  }
  // Node's own (undici's) WebSocket takes an options object.
  return new WebSocket(url, { protocols: protocols ?? [], headers });
}

/** Calls `refused(status)` when the `ws` package reports a non-101 answer to the handshake. */
export function onRefused(socket: WebSocketLike, refused: (status: number) => void): void {
  const emitter = socket as unknown as Partial<WsPackageSocket>;
  if (typeof emitter.on !== "function" || typeof emitter.terminate !== "function") {
    return;
  }
  emitter.on("unexpected-response", (_request, response) => {
    refused(response.statusCode ?? 0);
    // With a listener for this event, `ws` leaves the handshake to it: end it.
    emitter.terminate?.call(socket);
  });
}
