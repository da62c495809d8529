/**
 * The `WebSocket` the client runs on: the one passed as an option, the global one (browsers,
 * Deno, Bun, Node 22+), or the `ws` package when it is installed (Node 20).
 */
/** `WebSocket.OPEN`. */
export const OPEN = 1;
let fromPackage;
/** Whether this runs in Node (where a handshake may carry headers). */
export function isNode() {
    const process = globalThis.process;
    return typeof process?.versions?.node === "string";
}
/** The constructor to use, and whether it is the `ws` package's. */
export async function resolveWebSocket(given) {
    if (given) {
        return { WebSocket: given, wsPackage: isWsPackage(given) };
    }
    const global = globalThis.WebSocket;
    if (global) {
        return { WebSocket: global, wsPackage: false };
    }
    // A name in a variable: bundlers for the browser must not try to resolve it.
    const name = "ws";
    fromPackage ??= import(/* @vite-ignore */ /* webpackIgnore: true */ name).then((module) => module.WebSocket ?? module.default, () => undefined);
    const ws = await fromPackage;
    if (!ws) {
        throw new Error("no WebSocket: this runtime has no global WebSocket and the `ws` package is not installed (npm install ws), nor was one passed as the `WebSocket` option");
    }
    return { WebSocket: ws, wsPackage: true };
}
function isWsPackage(constructor) {
    const prototype = constructor.prototype;
    return typeof prototype?.terminate === "function" && typeof prototype?.on === "function";
}
/** Opens a WebSocket with the given headers where the runtime allows them (Node). */
export function open(WebSocket, wsPackage, url, protocols, headers) {
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
export function onRefused(socket, refused) {
    const emitter = socket;
    if (typeof emitter.on !== "function" || typeof emitter.terminate !== "function") {
        return;
    }
    emitter.on("unexpected-response", (_request, response) => {
        refused(response.statusCode ?? 0);
        // With a listener for this event, `ws` leaves the handshake to it: end it.
        emitter.terminate?.call(socket);
    });
}
