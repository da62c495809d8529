import { type ReconnectOptions } from "./backoff.js";
import { type QueueOptions } from "./queue.js";
import { type WebSocketConstructor } from "./transport.js";
/** Event names mapped to the type of their `data` (any interface of named events will do). */
export type EventMap = Record<string, any>;
/** A token, or where to get one before each connection attempt. */
export type Auth = string | (() => string | null | undefined | Promise<string | null | undefined>);
export interface ConnectOptions {
    /**
     * The token sent with each handshake; a function is called before every attempt (and when
     * the server asks for a fresh token: `nestgate:refresh`), so a reconnect carries a fresh one.
     */
    auth?: Auth;
    /**
     * Where the token goes: the `authParam` query parameter (default: what browsers allow), an
     * `Authorization: Bearer` header (Node only), or both.
     */
    authIn?: "query" | "header" | "both";
    /** The query parameter carrying the token. Default `token`. */
    authParam?: string;
    /** Reconnection (default on, with [`DEFAULT_RECONNECT`]'s figures); `false` turns it off. */
    reconnect?: boolean | Partial<ReconnectOptions>;
    /** How long a request waits for its answer by default, in ms. Default 10,000. */
    ackTimeout?: number;
    /** How long a connection attempt may take before it counts as failed, in ms. Default 10,000. */
    connectTimeout?: number;
    /** The offline queue's bounds. */
    queue?: Partial<QueueOptions>;
    /** The `WebSocket` constructor to use (default: the global one, or the `ws` package). */
    WebSocket?: WebSocketConstructor;
    /** WebSocket subprotocols to offer. */
    protocols?: string | string[];
    /** Connect at once (default). With `false`, call `connect()`. */
    autoConnect?: boolean;
}
/** Why the connection closed, as the `disconnect` event tells it. */
export interface DisconnectInfo {
    /** The close code (1006 when the connection was lost without one). */
    code: number;
    reason: string;
    /** Whether the client will reconnect by itself. */
    willReconnect: boolean;
}
/**
 * How a server with connection-state recovery registered the connection, as the `registered`
 * event tells it.
 */
export interface RegisteredInfo {
    /**
     * Whether the server recovered the connection before this one: same socket id, same rooms,
     * and the messages missed meanwhile come next, in order, once each.
     */
    recovered: boolean;
    /**
     * Why not, when the client asked to be recovered and was not: `unknown_session`, `expired`,
     * `gap`, `epoch_changed`, `invalid_offset` or `overflow`.
     */
    reason?: string;
}
/** The connection's own events (these names are not delivered from the server to `on`). */
export interface LifecycleEvents {
    /** Connected (again): queued frames have just been sent. */
    connect: () => void;
    /**
     * The server registered the connection (its broadcasts reach it from now on) and says
     * whether it recovered the one before. Only servers with connection-state recovery send it,
     * after `connect`.
     */
    registered: (info: RegisteredInfo) => void;
    disconnect: (info: DisconnectInfo) => void;
    /** A reconnection attempt is scheduled `delay` ms from now. */
    reconnecting: (info: {
        attempt: number;
        delay: number;
    }) => void;
    /** Reconnection gave up after `attempts` attempts; the socket is closed. */
    reconnect_failed: (info: {
        attempts: number;
    }) => void;
    /** Something the client could not do: a queued emit dropped, a listener that threw, a frame that is not JSON. */
    error: (error: Error) => void;
}
/** Answers a server's request (an event that came with an `id`). */
export type Ack = (value?: unknown) => void;
/** A request's own settings. */
export interface RequestOptions {
    /** How long to wait for the answer, in ms (queued time included). Default: `ackTimeout`. */
    timeout?: number;
}
/** The connection's state. */
export type State = "idle" | "connecting" | "open" | "reconnecting" | "closed";
/**
 * A ws-json connection that reconnects by itself.
 *
 * `S`: the server's events (name → data), `C`: the client's (what `emit` and `request` send),
 * `R`: what the server answers to the client's requests (name → answer).
 */
export declare class Socket<S extends object = EventMap, C extends object = EventMap, R extends object = EventMap> {
    #private;
    readonly url: string;
    constructor(url: string, options?: ConnectOptions);
    /** The connection's state. */
    get state(): State;
    /** Whether the connection is open (frames go out at once). */
    get connected(): boolean;
    /** Frames waiting for the connection. */
    get queued(): number;
    /** Opens the connection (again, after `close()` or a final close). */
    connect(): this;
    /** Closes the connection for good: no reconnect; queued and in-flight requests are rejected. */
    close(code?: number, reason?: string): void;
    /** Sends an event (queued while disconnected, within the queue's bounds: over them it throws `QueueFullError`). */
    emit<E extends keyof C & string>(event: E, ...data: undefined extends C[E] ? [data?: C[E]] : [data: C[E]]): this;
    /**
     * Sends an event with an id and waits for the server's answer (`{"ack": id, "data"}`).
     * Rejects with `ServerError` (the server's exception), `TimeoutError` (after `timeout` ms
     * from now, queued time included), `DisconnectedError` (the connection closed while it was in
     * flight: the server may have handled it) or `QueueFullError`.
     */
    request<E extends keyof C & string>(event: E, ...args: undefined extends C[E] ? [data?: C[E], options?: RequestOptions] : [data: C[E], options?: RequestOptions]): Promise<E extends keyof R ? R[E] : unknown>;
    /** Listens to a server event; `ack` answers it when the server asked with an id. */
    on<E extends keyof LifecycleEvents>(event: E, listener: LifecycleEvents[E]): this;
    on<E extends keyof S & string>(event: E, listener: (data: S[E], ack: Ack) => void): this;
    /** Listens once. */
    once<E extends keyof LifecycleEvents>(event: E, listener: LifecycleEvents[E]): this;
    once<E extends keyof S & string>(event: E, listener: (data: S[E], ack: Ack) => void): this;
    /** Stops listening: `listener`, or every listener of `event`. */
    off<E extends keyof LifecycleEvents>(event: E, listener?: LifecycleEvents[E]): this;
    off<E extends keyof S & string>(event: E, listener?: (data: S[E], ack: Ack) => void): this;
    /** Listens to every server event (after its own listeners), with its name. */
    onAny(listener: (event: string, data: unknown) => void): this;
    /**
     * Listens to frames that are neither events nor answers: what a handler returns to a frame
     * without an id, when it is not an event (NestJS sends a plain `7` as `7`).
     */
    onOther(listener: (frame: unknown) => void): this;
}
/**
 * Connects to a ws-json gateway. `S`: the server's events (name → data type), `C`: the
 * client's, `R`: the answers to the client's requests.
 *
 * ```ts
 * const socket = connect<{ said: ChatMessage }, { say: ChatMessage; rooms: undefined }, { rooms: string[] }>(
 *   "ws://localhost:3000/chat",
 *   { auth: () => localStorage.getItem("token") },
 * );
 * socket.on("said", (message) => render(message));
 * socket.emit("say", { text: "hello" });
 * const rooms = await socket.request("rooms"); // string[]
 * ```
 */
export declare function connect<S extends object = EventMap, C extends object = EventMap, R extends object = EventMap>(url: string, options?: ConnectOptions): Socket<S, C, R>;
