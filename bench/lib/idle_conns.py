#!/usr/bin/env python3
"""Holds N idle keep-alive connections to a server (W6).

Opens N connections to HOST:PORT, sends one small request on each and reads its answer, so
that every connection is a keep-alive connection the server has served, then prints
"READY opened=.. answered=.." and waits for a line on stdin. Then it counts the connections
the server still holds open, sends a second request on a sample of them, prints
"RESULT open=.. closed=.. sample=.. sample_ok=.." and exits. Bounded by --deadline seconds.
"""
import argparse
import random
import resource
import selectors
import socket
import sys
import time

REQUEST = b"GET /v2/ HTTP/1.1\r\nHost: bench\r\nUser-Agent: idle-conns\r\n\r\n"


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n + 100))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def answered(buf):
    """True once buf holds a whole response head and its Content-Length body."""
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(body) >= length


def request_all(socks, deadline):
    """Sends REQUEST on every socket and reads each answer; returns the sockets answered."""
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        try:
            s.send(REQUEST)
        except OSError:
            continue
        bufs[s] = b""
        sel.register(s, selectors.EVENT_READ)
    done = []
    while bufs and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(s)
                del bufs[s]
                continue
            bufs[s] += chunk
            if answered(bufs[s]):
                sel.unregister(s)
                del bufs[s]
                done.append(s)
    sel.close()
    return done


def open_all(host, port, n, deadline, batch=500):
    """Connects n sockets in batches (the listen backlog is finite); returns the connected."""
    connected = []
    while len(connected) < n and time.monotonic() < deadline:
        sel = selectors.DefaultSelector()
        pending = 0
        for _ in range(min(batch, n - len(connected))):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((host, port))
            sel.register(s, selectors.EVENT_WRITE)
            pending += 1
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.5):
                s = key.fileobj
                sel.unregister(s)
                pending -= 1
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    connected.append(s)
                else:
                    s.close()
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()
    return connected


def still_open(s):
    try:
        data = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        return data != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--sample", type=int, default=100)
    p.add_argument("--deadline", type=float, default=300)
    a = p.parse_args()
    end = time.monotonic() + a.deadline
    raise_nofile(a.count)
    socks = open_all(a.host, a.port, a.count, end)
    live = request_all(socks, end)
    print(f"READY opened={len(socks)} answered={len(live)}", flush=True)
    sys.stdin.readline()  # the caller's W1 runs meanwhile
    open_socks = [s for s in live if still_open(s)]
    sample = random.sample(open_socks, min(a.sample, len(open_socks)))
    ok = request_all(sample, min(end, time.monotonic() + 30))
    print(f"RESULT open={len(open_socks)} closed={len(live) - len(open_socks)} "
          f"sample={len(sample)} sample_ok={len(ok)}", flush=True)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
