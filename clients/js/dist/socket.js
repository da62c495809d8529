import { backoffDelay, DEFAULT_RECONNECT } from "./backoff.js";
import { isFinalClose, isFinalStatus } from "./close.js";
import { DisconnectedError, NestgateError, ServerError, TimeoutError } from "./errors.js";
import { DEFAULT_QUEUE, OfflineQueue } from "./queue.js";
import { isNode, onRefused, open, OPEN, resolveWebSocket, } from "./transport.js";
const LIFECYCLE = new Set(["connect", "registered", "disconnect", "reconnecting", "reconnect_failed", "error"]);
/** The event a server with connection-state recovery registers each connection with. */
const CONNECTED = "nestgate:connected";
/**
 * A ws-json connection that reconnects by itself.
 *
 * `S`: the server's events (name → data), `C`: the client's (what `emit` and `request` send),
 * `R`: what the server answers to the client's requests (name → answer).
 */
export class Socket {
    url;
    #options;
    #reconnect;
    #queue;
    #queueTimeout;
    #ws;
    #state = "idle";
    /** Attempts since the last open connection. */
    #attempt = 0;
    #retryTimer;
    #connectTimer;
    #nextId = 1;
    #pending = new Map();
    #listeners = new Map();
    #anyListeners = [];
    #otherListeners = [];
    /** The HTTP status that refused the last handshake (Node's `ws` tells it). */
    #refusedStatus;
    /** Set by `nestgate:connected`; none from a server without recovery. */
    #session;
    #onOnline = () => this.#reconnectNow();
    constructor(url, options = {}) {
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
    get state() {
        return this.#state;
    }
    /** Whether the connection is open (frames go out at once). */
    get connected() {
        return this.#state === "open";
    }
    /** Frames waiting for the connection. */
    get queued() {
        return this.#queue.length;
    }
    /** Opens the connection (again, after `close()` or a final close). */
    connect() {
        if (this.#state === "connecting" || this.#state === "open") {
            return this;
        }
        this.#attempt = 0;
        this.#listenOnline(true);
        void this.#open();
        return this;
    }
    /** Closes the connection for good: no reconnect; queued and in-flight requests are rejected. */
    close(code = 1000, reason = "") {
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
    emit(event, ...data) {
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
    request(event, ...args) {
        const [data, options = {}] = args;
        const id = this.#nextId++;
        const timeout = options.timeout ?? this.#options.ackTimeout ?? 10_000;
        const frame = encodeEvent(event, data, id);
        return new Promise((resolve, reject) => {
            const pending = {
                resolve: resolve,
                reject,
                queued: undefined,
                timer: setTimeout(() => {
                    this.#pending.delete(id);
                    const queued = pending.queued !== undefined && this.#queue.remove(pending.queued);
                    reject(new TimeoutError(queued
                        ? `request "${event}" timed out after ${timeout} ms waiting for the connection`
                        : `request "${event}" got no answer within ${timeout} ms`));
                }, timeout),
            };
            this.#pending.set(id, pending);
            if (this.#send(frame)) {
                return;
            }
            try {
                // Expired by its own timer above, not the queue's.
                pending.queued = this.#enqueue(frame, (error) => this.#settle(id)?.reject(error), undefined);
            }
            catch (error) {
                this.#settle(id);
                reject(error);
            }
        });
    }
    on(event, listener) {
        const listeners = this.#listeners.get(event) ?? [];
        listeners.push(listener);
        this.#listeners.set(event, listeners);
        return this;
    }
    once(event, listener) {
        const wrapper = (...args) => {
            this.off(event, wrapper);
            listener(...args);
        };
        wrapper.listener = listener;
        return this.on(event, wrapper);
    }
    off(event, listener) {
        if (!listener) {
            this.#listeners.delete(event);
            return this;
        }
        const listeners = (this.#listeners.get(event) ?? []).filter((candidate) => candidate !== listener && candidate.listener !== listener);
        if (listeners.length) {
            this.#listeners.set(event, listeners);
        }
        else {
            this.#listeners.delete(event);
        }
        return this;
    }
    /** Listens to every server event (after its own listeners), with its name. */
    onAny(listener) {
        this.#anyListeners.push(listener);
        return this;
    }
    /**
     * Listens to frames that are neither events nor answers: what a handler returns to a frame
     * without an id, when it is not an event (NestJS sends a plain `7` as `7`).
     */
    onOther(listener) {
        this.#otherListeners.push(listener);
        return this;
    }
    async #open() {
        this.#state = this.#attempt === 0 ? "connecting" : "reconnecting";
        this.#refusedStatus = undefined;
        let ws;
        try {
            const { WebSocket, wsPackage } = await resolveWebSocket(this.#options.WebSocket);
            const token = await this.#token();
            if (this.#state === "closed") {
                // Closed by close() meanwhile.
                return;
            }
            const authIn = this.#options.authIn ?? "query";
            const headers = token && authIn !== "query" ? { Authorization: `Bearer ${token}` } : undefined;
            ws = open(WebSocket, wsPackage, this.#handshakeUrl(token), this.#options.protocols, headers);
        }
        catch (error) {
            this.#emitLifecycle("error", error);
            this.#closed(1006, String(error.message ?? error), false);
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
        ws.onerror = () => { };
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
    #handshakeUrl(token) {
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
    #closed(code, reason, wasOpen, status) {
        // In flight: the server may or may not have handled them; they are not sent again.
        for (const [id, pending] of this.#pending) {
            if (!pending.queued) {
                this.#settle(id);
                pending.reject(new DisconnectedError(`the connection closed (${code}${reason ? ` ${reason}` : ""}) before the answer came`));
            }
        }
        const freshAuth = typeof this.#options.auth === "function";
        const final = (status !== undefined && isFinalStatus(status)) || (status === undefined && isFinalClose(code, reason, freshAuth));
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
    #scheduleRetry() {
        const options = this.#reconnect;
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
    #reconnectNow() {
        if (this.#retryTimer === undefined) {
            return;
        }
        clearTimeout(this.#retryTimer);
        this.#retryTimer = undefined;
        void this.#open();
    }
    /** The socket is done: nothing queued or pending survives, no timer is left. */
    #shutDown(error) {
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
    #listenOnline(on) {
        const target = globalThis;
        if (typeof target.addEventListener !== "function" || typeof target.removeEventListener !== "function") {
            return;
        }
        target.removeEventListener("online", this.#onOnline);
        if (on) {
            target.addEventListener("online", this.#onOnline);
        }
    }
    async #token() {
        const auth = this.#options.auth;
        return typeof auth === "function" ? await auth() : auth;
    }
    /** Sends `frame` now if the connection is open. */
    #send(frame) {
        const ws = this.#ws;
        if (this.#state !== "open" || !ws || ws.readyState !== OPEN) {
            return false;
        }
        ws.send(frame);
        return true;
    }
    #enqueue(frame, dropped, ttl) {
        if (this.#state === "closed") {
            throw new DisconnectedError("the socket is closed: call connect() first");
        }
        return this.#queue.push(frame, dropped, ttl);
    }
    /** Forgets request `id`; what it was waiting with. */
    #settle(id) {
        const pending = this.#pending.get(id);
        if (pending) {
            clearTimeout(pending.timer);
            this.#pending.delete(id);
        }
        return pending;
    }
    #receive(data) {
        if (typeof data !== "string") {
            this.#emitLifecycle("error", new NestgateError("a binary frame came: ws-json frames are text"));
            return;
        }
        let frame;
        try {
            frame = JSON.parse(data);
        }
        catch {
            this.#emitLifecycle("error", new NestgateError(`a frame that is not JSON came: ${data.slice(0, 100)}`));
            return;
        }
        if (typeof frame !== "object" || frame === null || Array.isArray(frame)) {
            this.#emitOther(frame);
            return;
        }
        const object = frame;
        if (typeof object.ack === "number" && !("event" in object)) {
            const pending = this.#settle(object.ack);
            if (!pending) {
                return; // Timed out already.
            }
            if ("error" in object) {
                pending.reject(new ServerError(object.error));
            }
            else {
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
    #registered(data) {
        const connected = (typeof data === "object" && data !== null ? data : {});
        const { session, offset, recovered, reason } = connected;
        if (typeof session !== "string" ||
            typeof offset !== "string" ||
            typeof recovered !== "boolean" ||
            (reason != null && typeof reason !== "string")) {
            this.#emitLifecycle("error", new NestgateError(`a ${CONNECTED} frame that does not read: ${JSON.stringify(data)}`));
            return;
        }
        this.#session = { id: session, offset };
        this.#emitLifecycle("registered", typeof reason === "string" ? { recovered, reason } : { recovered });
    }
    #event(event, data, id) {
        let answered = false;
        const ack = (value) => {
            if (answered || id === undefined) {
                return;
            }
            answered = true;
            this.#send(JSON.stringify({ ack: id, data: value ?? null }));
        };
        if (event === "nestgate:refresh" && typeof this.#options.auth === "function" && id !== undefined) {
            // The server asks for a fresh token before the current one expires.
            void this.#token().then((token) => ack({ token }), (error) => this.#emitLifecycle("error", error));
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
    #emitOther(frame) {
        for (const listener of [...this.#otherListeners]) {
            this.#call(() => listener(frame));
        }
    }
    #emitLifecycle(event, ...args) {
        const listeners = [...(this.#listeners.get(event) ?? [])];
        if (event === "error" && listeners.length === 0) {
            // Nobody listens: say it where a developer looks, rather than lose it.
            console.error("@nestgate/client:", args[0]);
            return;
        }
        for (const listener of listeners) {
            this.#call(() => listener(...args), event === "error");
        }
    }
    /** Calls a listener; what it throws is reported with the `error` event, not thrown at the socket. */
    #call(call, quiet = false) {
        try {
            call();
        }
        catch (error) {
            if (quiet) {
                console.error("@nestgate/client: an error listener threw:", error);
            }
            else {
                this.#emitLifecycle("error", error);
            }
        }
    }
}
/**
 * Closes `ws` without hearing from it again. Its error listener stays, as a no-op: the `ws`
 * package emits an error when a handshake still under way is aborted, and an EventEmitter's
 * error with no listener would throw in Node.
 */
function detach(ws, code, reason) {
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => { };
    try {
        ws.close(code, reason);
    }
    catch {
        // A code the WebSocket refuses to send (not 1000 nor 3000–4999): closed without one.
        ws.close();
    }
}
/** `{"event", "data", "id"?}`, as ws-json (and NestJS's `WsAdapter`) reads it. */
function encodeEvent(event, data, id) {
    const frame = { event, data: data ?? null };
    if (id !== undefined) {
        frame.id = id;
    }
    return JSON.stringify(frame);
}
function withQuery(url, name, value) {
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
export function connect(url, options = {}) {
    return new Socket(url, options);
}
