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
    onclose: ((event: {
        code: number;
        reason: string;
    }) => void) | null;
    onerror: ((event: unknown) => void) | null;
    onmessage: ((event: {
        data: unknown;
    }) => void) | null;
}
/** A `WebSocket` constructor: `new WebSocket(url, protocols)` (the `ws` package's takes options too). */
export type WebSocketConstructor = new (url: string, ...rest: any[]) => WebSocketLike;
/** `WebSocket.OPEN`. */
export declare const OPEN = 1;
/** Whether this runs in Node (where a handshake may carry headers). */
export declare function isNode(): boolean;
/** The constructor to use, and whether it is the `ws` package's. */
export declare function resolveWebSocket(given: WebSocketConstructor | undefined): Promise<{
    WebSocket: WebSocketConstructor;
    wsPackage: boolean;
}>;
/** Opens a WebSocket with the given headers where the runtime allows them (Node). */
export declare function open(WebSocket: WebSocketConstructor, wsPackage: boolean, url: string, protocols: string | string[] | undefined, headers: Record<string, string> | undefined): WebSocketLike;
/** Calls `refused(status)` when the `ws` package reports a non-101 answer to the handshake. */
export declare function onRefused(socket: WebSocketLike, refused: (status: number) => void): void;
