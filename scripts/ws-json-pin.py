#!/usr/bin/env python3
"""What one ws-json client that never reads makes a server hold (docs/LIMITS.md, issue 12).

    python3 scripts/ws-json-pin.py PID PORT [COUNT] [SIZE] [echo|unknown]

PID and PORT are those of a running echo example (`PORT=3917 target/debug/echo &`, then `$!`).
The client upgrades on `/`, sends COUNT (64) frames with SIZE (524288) bytes of data without
reading (`echo`, or an unknown event with a 64 KiB name, whose error repeats the data), waits
2 s, then reads until the connection ends. It prints the server's VmRSS before and at its peak
(sampled every 10 ms), the text frames it got and the close code.
"""
import socket, sys, threading, time, json
pid, port = int(sys.argv[1]), int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 64
size = int(sys.argv[4]) if len(sys.argv) > 4 else 524288
kind = sys.argv[5] if len(sys.argv) > 5 else "echo"
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1])  # kB
peak = [rss()]; base = peak[0]; stop = [False]
def sample():
    while not stop[0]:
        peak[0] = max(peak[0], rss()); time.sleep(0.01)
threading.Thread(target=sample, daemon=True).start()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head: head += s.recv(1)
assert head.startswith(b"HTTP/1.1 101"), head
if kind == "echo":
    payload = json.dumps({"event": "echo", "data": "x" * size}).encode()
else:  # an unknown event: the error repeats the data (cause) and 64 chars of the name
    payload = json.dumps({"event": "n" * 65536, "data": "x" * size}).encode()
frame = bytes([0x81, 0x80 | 127]) + len(payload).to_bytes(8, "big") + b"\0\0\0\0" + payload
sent = 0
try:
    for _ in range(n):
        s.sendall(frame); sent += 1
except OSError as e:
    print("send stopped:", e)
time.sleep(2)
received = b""
s.settimeout(20)
try:
    while True:
        chunk = s.recv(1 << 20)
        if not chunk: break
        received += chunk
except OSError as e:
    print("recv ended:", e)
stop[0] = True
# the close code
i, code, texts = 0, None, 0
while i + 2 <= len(received):
    op, ln = received[i] & 15, received[i+1] & 127; j = i + 2
    if ln == 126: ln = int.from_bytes(received[j:j+2], "big"); j += 2
    elif ln == 127: ln = int.from_bytes(received[j:j+8], "big"); j += 8
    if op == 1: texts += 1
    if op == 8: code = int.from_bytes(received[j:j+2], "big")
    i = j + ln
print(f"sent {sent} x {len(payload)} B; got {texts} text frames, close {code}; server RSS {base} kB -> peak {peak[0]} kB (+{(peak[0]-base)/1024:.1f} MiB)")
