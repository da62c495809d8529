import { backoffDelay, DEFAULT_RECONNECT, type ReconnectOptions } from "./backoff.js";
import { isFinalClose, isFinalStatus } from "./close.js";
import { DisconnectedError, NestgateError, ServerError, TimeoutError } from "./errors.js";
import { DEFAULT_QUEUE, OfflineQueue, type QueueOptions, type Queued } from "./queue.js";
import {
  isNode,
  onRefused,
  open,
  OPEN,
  resolveWebSocket,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./transport.js";

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
  reconnecting: (info: { attempt: number; delay: number }) => void;
  /** Reconnection gave up after `attempts` attempts; the socket is closed. */
  reconnect_failed: (info: { attempts: number }) => void;
  /** Something the client could not do: a queued emit dropped, a listener that threw, a frame that is not JSON. */
  error: (error: Error) => void;
}

const LIFECYCLE = new Set(["connect", "registered", "disconnect", "reconnecting", "reconnect_failed", "error"]);

/** The event a server with connection-state recovery registers each connection with. */
const CONNECTED = "nestgate:connected";

/**
 * Connection-state recovery: the session the server gave, and the offset of the last stored
 * message received (or the one `nestgate:connected` gave, when none came since). Presented on
 * the next connection, so that the server replays what was missed in between.
 */
interface Session {
  id: string;
  offset: string;
}

/** Answers a server's request (an event that came with an `id`). */
export type Ack = (value?: unknown) => void;

type Listener = (data: any, ack: Ack) => void;

/** A request's own settings. */
export interface RequestOptions {
  /** How long to wait for the answer, in ms (queued time included). Default: `ackTimeout`. */
  timeout?: number;
}

/** What a request waits with. */
interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
  /** Its place in the offline queue, while it waits there. */
  queued: Queued | undefined;
}

/** The connection's state. */
export type State = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/**
 * A ws-json connection that reconnects by itself.
 *
 * `S`: the server's events (name → data), `C`: the client's (what `emit` and `request` send),
 * `R`: what the server answers to the client's requests (name → answer).
 */
export class Socket<S extends object = EventMap, C extends object = EventMap, R extends object = EventMap> {
  readonly url: string;
  #options: ConnectOptions;
  #reconnect: ReconnectOptions | undefined;
  #queue: OfflineQueue;
  #queueTimeout: number;
  #ws: WebSocketLike | undefined;
  #state: State = "idle";
  /** Attempts since the last open connection. */
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #listeners = new Map<string, Listener[]>();
  #anyListeners: ((event: string, data: unknown) => void)[] = [];
  #otherListeners: ((frame: unknown) => void)[] = [];
  /** The HTTP status that refused the last handshake (Node's `ws` tells it). */
  #refusedStatus: number | undefined;
  /** Set by `nestgate:connected`; none from a server without recovery. */
  #session: Session | undefined;
  #onOnline = () => this.#reconnectNow();

  constructor(url: string, options: ConnectOptions = {}) {
    this.url = url;
    this.#options = options;
    this.#reconnect =
      options.reconnect === false
        ? undefined
        : { ...DEFAULT_RECONNECT, ...(typeof options.reconnect === "object" ? options.reconnect : {}) };
    const queue = { ...DEFAULT_QUEUE, ...options.queue };
    this.#queue = new OfflineQueue(queue);
    this.#queueTimeout = queue.timeout;
    if ((options.authIn === "header" || options.authIn === "both") && !isNode()) {
      throw new NestgateError("a browser cannot set headers on a WebSocket: send the token in the query (authIn: \"query\")");
    }
    if (options.autoConnect !== false) {
      this.connect();
    }
  }

  /** The connection's state. */
  get state(): State {
    return this.#state;
  }

  /** Whether the connection is open (frames go out at once). */
  get connected(): boolean {
    return this.#state === "open";
  }

  /** Frames waiting for the connection. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Opens the connection (again, after `close()` or a final close). */
  connect(): this {
    if (this.#state === "connecting" || this.#state === "open") {
      return this;
    }
    this.#attempt = 0;
    this.#listenOnline(true);
    void this.#open();
    return this;
  }

  /** Closes the connection for good: no reconnect; queued and in-flight requests are rejected. */
  close(code = 1000, reason = ""): void {
    const ws = this.#ws;
    this.#ws = undefined;
    // Closed on purpose: the server keeps no session for it, and a later connect() is new.
    this.#session = undefined;
    this.#shutDown(new DisconnectedError("the socket was closed by the client"));
    if (ws) {
      detach(ws, code, reason);
      this.#emitLifecycle("disconnect", { code, reason, willReconnect: false });
    }
  }

  /** Sends an event (queued while disconnected, within the queue's bounds: over them it throws `QueueFullError`). */
  emit<E extends keyof C & string>(event: E, ...data: undefined extends C[E] ? [data?: C[E]] : [data: C[E]]): this {
    const frame = encodeEvent(event, data[0], undefined);
    if (this.#send(frame)) {
      return this;
    }
    this.#enqueue(frame, (error) => this.#emitLifecycle("error", error), this.#queueTimeout);
    return this;
  }

  /**
   * Sends an event with an id and waits for the server's answer (`{"ack": id, "data"}`).
   * Rejects with `ServerError` (the server's exception), `TimeoutError` (after `timeout` ms
   * from now, queued time included), `DisconnectedError` (the connection closed while it was in
   * flight: the server may have handled it) or `QueueFullError`.
   */
  request<E extends keyof C & string>(
    event: E,
    ...args: undefined extends C[E]
      ? [data?: C[E], options?: RequestOptions]
      : [data: C[E], options?: RequestOptions]
  ): Promise<E extends keyof R ? R[E] : unknown> {
    const [data, options = {}] = args;
    const id = this.#nextId++;
    const timeout = options.timeout ?? this.#options.ackTimeout ?? 10_000;
    const frame = encodeEvent(event, data, id);
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        resolve: resolve as (value: unknown) => void,
        reject,
        queued: undefined,
        timer: setTimeout(() => {
          this.#pending.delete(id);
          const queued = pending.queued !== undefined && this.#queue.remove(pending.queued);
          reject(
            new TimeoutError(
              queued
                ? `request "${event}" timed out after ${timeout} ms waiting for the connection`
                : `request "${event}" got no answer within ${timeout} ms`,
            ),
          );
        }, timeout),
      };
      this.#pending.set(id, pending);
      if (this.#send(frame)) {
        return;
      }
      try {
        // Expired by its own timer above, not the queue's.
        pending.queued = this.#enqueue(frame, (error) => this.#settle(id)?.reject(error), undefined);
      } catch (error) {
        this.#settle(id);
        reject(error as Error);
      }
    });
  }

  /** Listens to a server event; `ack` answers it when the server asked with an id. */
  on<E extends keyof LifecycleEvents>(event: E, listener: LifecycleEvents[E]): this;
  on<E extends keyof S & string>(event: E, listener: (data: S[E], ack: Ack) => void): this;
  on(event: string, listener: (...args: any[]) => void): this {
    const listeners = this.#listeners.get(event) ?? [];
    listeners.push(listener);
    this.#listeners.set(event, listeners);
    return this;
  }

  /** Listens once. */
  once<E extends keyof LifecycleEvents>(event: E, listener: LifecycleEvents[E]): this;
  once<E extends keyof S & string>(event: E, listener: (data: S[E], ack: Ack) => void): this;
  once(event: string, listener: (...args: any[]) => void): this {
    const wrapper = (...args: any[]) => {
      this.off(event as keyof S & string, wrapper);
      listener(...args);
    };
    (wrapper as { listener?: unknown }).listener = listener;
    return this.on(event as keyof S & string, wrapper);
  }

  /** Stops listening: `listener`, or every listener of `event`. */
  off<E extends keyof LifecycleEvents>(event: E, listener?: LifecycleEvents[E]): this;
  off<E extends keyof S & string>(event: E, listener?: (data: S[E], ack: Ack) => void): this;
  off(event: string, listener?: (...args: any[]) => void): this {
    if (!listener) {
      this.#listeners.delete(event);
      return this;
    }
    const listeners = (this.#listeners.get(event) ?? []).filter(
      (candidate) => candidate !== listener && (candidate as { listener?: unknown }).listener !== listener,
    );
    if (listeners.length) {
      this.#listeners.set(event, listeners);
    } else {
      this.#listeners.delete(event);
    }
    return this;
  }

  /** Listens to every server event (after its own listeners), with its name. */
  onAny(listener: (event: string, data: unknown) => void): this {
    this.#anyListeners.push(listener);
    return this;
  }

  /**
   * Listens to frames that are neither events nor answers: what a handler returns to a frame
   * without an id, when it is not an event (NestJS sends a plain `7` as `7`).
   */
  onOther(listener: (frame: unknown) => void): this {
    this.#otherListeners.push(listener);
    return this;
  }

  async #open(): Promise<void> {
    this.#state = this.#attempt === 0 ? "connecting" : "reconnecting";
    this.#refusedStatus = undefined;
    let ws: WebSocketLike;
    try {
      const { WebSocket, wsPackage } = await resolveWebSocket(this.#options.WebSocket);
      const token = await this.#token();
      if ((this.#state as State) === "closed") {
        // Closed by close() meanwhile.
        return;
      }
      const authIn = this.#options.authIn ?? "query";
      const headers = token && authIn !== "query" ? { Authorization: `Bearer ${token}` } : undefined;
      ws = open(WebSocket, wsPackage, this.#handshakeUrl(token), this.#options.protocols, headers);
    } catch (error) {
      this.#emitLifecycle("error", error as Error);
      this.#closed(1006, String((error as Error).message ?? error), false);
      return;
    }
    this.#ws = ws;
    onRefused(ws, (status) => (this.#refusedStatus = status));
    const timeout = this.#options.connectTimeout ?? 10_000;
    this.#connectTimer = setTimeout(() => {
      if (this.#ws === ws && ws.readyState !== OPEN) {
        this.#ws = undefined;
        detach(ws);
        this.#closed(1006, `connection attempt timed out after ${timeout} ms`, false);
      }
    }, timeout);
    ws.onopen = () => {
      clearTimeout(this.#connectTimer);
      this.#state = "open";
      this.#attempt = 0;
      for (const item of this.#queue.take()) {
        ws.send(item.frame);
      }
      this.#emitLifecycle("connect");
    };
    ws.onmessage = (event) => this.#receive(event.data);
    ws.onerror = () => {};
    ws.onclose = (event) => {
      clearTimeout(this.#connectTimer);
      if (this.#ws !== ws) {
        return;
      }
      this.#ws = undefined;
      const wasOpen = this.#state === "open";
      const reason = this.#refusedStatus ? `handshake refused: HTTP ${this.#refusedStatus}` : event.reason;
      this.#closed(event.code, reason, wasOpen, this.#refusedStatus);
    };
  }

  /** The URL of the next handshake: the token when it goes in the query, and the session to recover. */
  #handshakeUrl(token: string | null | undefined): string {
    let url = this.url;
    if (token && (this.#options.authIn ?? "query") !== "header") {
      url = withQuery(url, this.#options.authParam ?? "token", token);
    }
    if (this.#session) {
      // Where this client left off: the server replays what came after.
      url = withQuery(withQuery(url, "session", this.#session.id), "offset", this.#session.offset);
    }
    return url;
  }

  /** The connection (or an attempt) ended: reconnect, or end the socket. */
  #closed(code: number, reason: string, wasOpen: boolean, status?: number): void {
    // In flight: the server may or may not have handled them; they are not sent again.
    for (const [id, pending] of this.#pending) {
      if (!pending.queued) {
        this.#settle(id);
        pending.reject(new DisconnectedError(`the connection closed (${code}${reason ? ` ${reason}` : ""}) before the answer came`));
      }
    }
    const freshAuth = typeof this.#options.auth === "function";
    const final =
      (status !== undefined && isFinalStatus(status)) || (status === undefined && isFinalClose(code, reason, freshAuth));
    if (final) {
      // A close the server meant (or a refused handshake): it kept no session to recover.
      this.#session = undefined;
    }
    const retry = !final && this.#reconnect !== undefined && this.#state !== "closed";
    if (!retry) {
      this.#shutDown(new DisconnectedError(`the connection closed for good (${code}${reason ? ` ${reason}` : ""})`));
      if (wasOpen || final) {
        this.#emitLifecycle("disconnect", { code, reason, willReconnect: false });
      }
      return;
    }
    if (wasOpen) {
      this.#emitLifecycle("disconnect", { code, reason, willReconnect: true });
    }
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    const options = this.#reconnect!;
    this.#attempt += 1;
    if (this.#attempt > options.attempts) {
      const attempts = this.#attempt - 1;
      this.#shutDown(new DisconnectedError(`reconnection gave up after ${attempts} attempts`));
      this.#emitLifecycle("reconnect_failed", { attempts });
      return;
    }
    const delay = backoffDelay(this.#attempt, options);
    this.#state = "reconnecting";
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#open();
    }, delay);
    this.#emitLifecycle("reconnecting", { attempt: this.#attempt, delay });
  }

  /** The browser is back online: the waiting attempt goes now. */
  #reconnectNow(): void {
    if (this.#retryTimer === undefined) {
      return;
    }
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    void this.#open();
  }

  /** The socket is done: nothing queued or pending survives, no timer is left. */
  #shutDown(error: Error): void {
    this.#state = "closed";
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#connectTimer);
    this.#retryTimer = undefined;
    this.#listenOnline(false);
    for (const item of this.#queue.take()) {
      item.dropped(error);
    }
    for (const [id, pending] of this.#pending) {
      this.#settle(id);
      pending.reject(error);
    }
  }

  #listenOnline(on: boolean): void {
    const target = globalThis as { addEventListener?: Function; removeEventListener?: Function };
    if (typeof target.addEventListener !== "function" || typeof target.removeEventListener !== "function") {
      return;
    }
    target.removeEventListener("online", this.#onOnline);
    if (on) {
      target.addEventListener("online", this.#onOnline);
    }
  }

  async #token(): Promise<string | null | undefined> {
    const auth = this.#options.auth;
    return typeof auth === "function" ? await auth() : auth;
  }

  /** Sends `frame` now if the connection is open. */
  #send(frame: string): boolean {
    const ws = this.#ws;
    if (this.#state !== "open" || !ws || ws.readyState !== OPEN) {
      return false;
    }
    ws.send(frame);
    return true;
  }

  #enqueue(frame: string, dropped: (error: Error) => void, ttl: number | undefined): Queued {
    if (this.#state === "closed") {
      throw new DisconnectedError("the socket is closed: call connect() first");
    }
    return this.#queue.push(frame, dropped, ttl);
  }

  /** Forgets request `id`; what it was waiting with. */
  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(id);
    }
    return pending;
  }

  #receive(data: unknown): void {
    if (typeof data !== "string") {
      this.#emitLifecycle("error", new NestgateError("a binary frame came: ws-json frames are text"));
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      this.#emitLifecycle("error", new NestgateError(`a frame that is not JSON came: ${data.slice(0, 100)}`));
      return;
    }
    if (typeof frame !== "object" || frame === null || Array.isArray(frame)) {
      this.#emitOther(frame);
      return;
    }
    const object = frame as Record<string, unknown>;
    if (typeof object.ack === "number" && !("event" in object)) {
      const pending = this.#settle(object.ack);
      if (!pending) {
        return; // Timed out already.
      }
      if ("error" in object) {
        pending.reject(new ServerError(object.error));
      } else {
        pending.resolve(object.data);
      }
      return;
    }
    if (typeof object.event !== "string") {
      this.#emitOther(frame);
      return;
    }
    if (object.event === CONNECTED) {
      this.#registered(object.data);
      return;
    }
    if (typeof object.offset === "string" && this.#session) {
      // A stored message: the next connection recovers from after it, so it is never twice.
      this.#session.offset = object.offset;
    }
    const id = typeof object.id === "number" ? object.id : undefined;
    this.#event(object.event, object.data, id);
  }

  /** `nestgate:connected`: the session to present next time, and whether this one recovered. */
  #registered(data: unknown): void {
    const connected = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
    const { session, offset, recovered, reason } = connected;
    if (
      typeof session !== "string" ||
      typeof offset !== "string" ||
      typeof recovered !== "boolean" ||
      (reason != null && typeof reason !== "string")
    ) {
      this.#emitLifecycle("error", new NestgateError(`a ${CONNECTED} frame that does not read: ${JSON.stringify(data)}`));
      return;
    }
    this.#session = { id: session, offset };
    this.#emitLifecycle("registered", typeof reason === "string" ? { recovered, reason } : { recovered });
  }

  #event(event: string, data: unknown, id: number | undefined): void {
    let answered = false;
    const ack: Ack = (value) => {
      if (answered || id === undefined) {
        return;
      }
      answered = true;
      this.#send(JSON.stringify({ ack: id, data: value ?? null }));
    };
    if (event === "nestgate:refresh" && typeof this.#options.auth === "function" && id !== undefined) {
      // The server asks for a fresh token before the current one expires.
      void this.#token().then(
        (token) => ack({ token }),
        (error: Error) => this.#emitLifecycle("error", error),
      );
      return;
    }
    if (!LIFECYCLE.has(event)) {
      for (const listener of [...(this.#listeners.get(event) ?? [])]) {
        this.#call(() => listener(data, ack));
      }
    }
    for (const listener of [...this.#anyListeners]) {
      this.#call(() => listener(event, data));
    }
  }

  #emitOther(frame: unknown): void {
    for (const listener of [...this.#otherListeners]) {
      this.#call(() => listener(frame));
    }
  }

  #emitLifecycle<E extends keyof LifecycleEvents>(event: E, ...args: Parameters<LifecycleEvents[E]>): void {
    const listeners = [...(this.#listeners.get(event) ?? [])];
    if (event === "error" && listeners.length === 0) {
      // Nobody listens: say it where a developer looks, rather than lose it.
      console.error("@nestgate/client:", args[0]);
      return;
    }
    for (const listener of listeners) {
      this.#call(() => (listener as (...args: unknown[]) => void)(...args), event === "error");
    }
  }

  /** Calls a listener; what it throws is reported with the `error` event, not thrown at the socket. */
  #call(call: () => void, quiet = false): void {
    try {
      call();
    } catch (error) {
      if (quiet) {
        console.error("@nestgate/client: an error listener threw:", error);
      } else {
        this.#emitLifecycle("error", error as Error);
      }
    }
  }
}

/**
 * Closes `ws` without hearing from it again. Its error listener stays, as a no-op: the `ws`
 * package emits an error when a handshake still under way is aborted, and an EventEmitter's
 * error with no listener would throw in Node.
 */
function detach(ws: WebSocketLike, code?: number, reason?: string): void {
  ws.onopen = ws.onmessage = ws.onclose = null;
  ws.onerror = () => {};
  try {
    ws.close(code, reason);
  } catch {
    // A code the WebSocket refuses to send (not 1000 nor 3000–4999): closed without one.
    ws.close();
  }
}

/** `{"event", "data", "id"?}`, as ws-json (and NestJS's `WsAdapter`) reads it. */
function encodeEvent(event: string, data: unknown, id: number | undefined): string {
  const frame: Record<string, unknown> = { event, data: data ?? null };
  if (id !== undefined) {
    frame.id = id;
  }
  return JSON.stringify(frame);
}

function withQuery(url: string, name: string, value: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set(name, value);
  return parsed.toString();
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
export function connect<S extends object = EventMap, C extends object = EventMap, R extends object = EventMap>(
  url: string,
  options: ConnectOptions = {},
): Socket<S, C, R> {
  return new Socket<S, C, R>(url, options);
}
