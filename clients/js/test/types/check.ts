// Compiled with `tsc --noEmit` (npm run typecheck): each @ts-expect-error line must be an error.
import { connect } from "../../dist/index.js";

interface ChatMessage {
  room: string;
  text: string;
}

interface ServerEvents {
  message: ChatMessage;
  joined: { room: string; members: number };
}

interface ClientEvents {
  message: ChatMessage;
  join: string;
  rooms: undefined;
}

interface Replies {
  rooms: string[];
}

const socket = connect<ServerEvents, ClientEvents, Replies>("ws://localhost:3000/chat", { autoConnect: false });

socket.emit("message", { room: "lobby", text: "hi" });
socket.emit("join", "lobby");
socket.emit("rooms");
// @ts-expect-error: `message` takes a ChatMessage
socket.emit("message", 42);
// @ts-expect-error: no such client event
socket.emit("mesage", { room: "lobby", text: "hi" });
// @ts-expect-error: `join` needs its data
socket.emit("join");

socket.on("message", (message) => {
  const text: string = message.text;
  // @ts-expect-error: a ChatMessage has no `members`
  message.members;
  void text;
});
socket.on("joined", (data, ack) => {
  const members: number = data.members;
  ack(members);
});
socket.on("disconnect", ({ code, willReconnect }) => {
  const c: number = code;
  const w: boolean = willReconnect;
  void c;
  void w;
});
socket.on("registered", ({ recovered, reason }) => {
  const r: boolean = recovered;
  const why: string | undefined = reason;
  // @ts-expect-error: `reason` comes only when the client was not recovered
  const always: string = reason;
  void r;
  void why;
  void always;
});
// @ts-expect-error: no such server event
socket.on("mesage", () => {});

async function requests(): Promise<void> {
  const rooms: string[] = await socket.request("rooms");
  // @ts-expect-error: the answer to `rooms` is a string[]
  const wrong: number = await socket.request("rooms");
  await socket.request("join", "lobby", { timeout: 1_000 });
  // @ts-expect-error: `join` takes a string
  await socket.request("join", 7);
  void rooms;
  void wrong;
}
void requests;
