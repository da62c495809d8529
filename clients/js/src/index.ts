/**
 * `@nestgate/client`: the ws-json client for nestgate gateways (and NestJS `WsAdapter` ones,
 * minus the `id`/`ack` extension): events, requests answered by acks, the server's own
 * requests, reconnection with backoff, a bounded offline queue, typed events.
 *
 * ```ts
 * import { connect } from "@nestgate/client";
 *
 * const socket = connect("ws://localhost:3000/", { auth: () => fetchToken() });
 * socket.on("said", (data) => console.log(data));
 * socket.emit("say", "hello");
 * console.log(await socket.request("whoami"));
 * ```
 */
export { connect, Socket } from "./socket.js";
export type {
  Ack,
  Auth,
  ConnectOptions,
  DisconnectInfo,
  EventMap,
  LifecycleEvents,
  RegisteredInfo,
  RequestOptions,
  State,
} from "./socket.js";
export { backoffDelay, DEFAULT_RECONNECT } from "./backoff.js";
export type { ReconnectOptions } from "./backoff.js";
export { isFinalClose } from "./close.js";
export { DEFAULT_QUEUE } from "./queue.js";
export type { QueueOptions } from "./queue.js";
export type { WebSocketConstructor, WebSocketLike } from "./transport.js";
export { DisconnectedError, NestgateError, QueueFullError, ServerError, TimeoutError } from "./errors.js";
