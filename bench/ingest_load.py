#!/usr/bin/env python3
"""Load generator and meter for bench/ingest.sh (see there). Real sample lines from ../shared/data:
sshd lines of loghub's OpenSSH_2k.log (RFC 3164, for TCP syslog) and Suricata EVE events of
suricata-verify (for HTTP NDJSON)."""
import glob, json, os, socket, subprocess, sys, threading, time, urllib.request

from serve_client import Sampler, metric, post_ndjson

SHARED = os.environ.get("SHARED", "../shared/data")


def syslog_lines():
    with open(f"{SHARED}/linux-auth/loghub/OpenSSH/OpenSSH_2k.log", encoding="utf-8", errors="replace") as f:
        return [("<38>" + l.rstrip("\n") + "\n").encode() for l in f if l.strip()]


def eve_lines():
    out = []
    for p in sorted(glob.glob(f"{SHARED}/misc/suricata-eve-verify/*.json")):
        with open(p, encoding="utf-8") as f:
            for l in f:
                l = l.strip()
                if l.startswith("{"):
                    try:
                        json.loads(l)
                        out.append((l + "\n").encode())
                    except ValueError:
                        pass
    return out


def stored(http):
    return int(metric(http, "yagura_store_events_total"))


def wal_durable(http):
    """The write-ahead log's highest durable record (`/healthz`)."""
    with urllib.request.urlopen(f"http://{http}/healthz", timeout=5) as r:
        return int(json.loads(r.read())["wal_durable_seq"])


class WalWatch(threading.Thread):
    """Notes when the log's durable sequence number reaches `target`: the collect stage's
    time (records received and durable), apart from parsing and storing, which follow it."""

    def __init__(self, http, target):
        super().__init__(daemon=True)
        self.http, self.target, self.t0, self.at = http, target, time.time(), None

    def run(self):
        while time.time() - self.t0 < 600:
            if wal_durable(self.http) >= self.target:
                self.at = time.time() - self.t0
                return
            time.sleep(0.01)


def wait_stored(http, target, timeout=600):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if stored(http) >= target:
            return True
        time.sleep(0.02)
    return False


def tcp_blast(addr, payload, repeat, conns):
    host, port = addr.rsplit(":", 1)
    def one():
        s = socket.create_connection((host, int(port)))
        for _ in range(repeat):
            s.sendall(payload)
        s.close()
    ts = [threading.Thread(target=one) for _ in range(conns)]
    for t in ts: t.start()
    for t in ts: t.join()


def http_blast(http, body, requests, threads):
    def one(n):
        for _ in range(n):
            post_ndjson(http, body, timeout=30)
    per = [requests // threads + (1 if i < requests % threads else 0) for i in range(threads)]
    ts = [threading.Thread(target=one, args=(n,)) for n in per]
    for t in ts: t.start()
    for t in ts: t.join()


def file_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(buf.count(b"\n") for buf in iter(lambda: f.read(1 << 20), b""))
    except OSError:
        return 0


def main():
    mode = sys.argv[1]
    if mode == "tcp":  # tcp ADDR HTTP PID EVENTS
        addr, http, pid, events = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        lines = syslog_lines()
        payload = b"".join(lines)
        repeat = max(1, events // len(lines) // 2)
        total = repeat * len(lines) * 2
        base = stored(http)
        wal = WalWatch(http, wal_durable(http) + total)
        s = Sampler(pid); s.start()
        t0 = time.time()
        wal.start()
        tcp_blast(addr, payload, repeat, 2)
        sent = time.time() - t0
        ok = wait_stored(http, base + total)
        dt = time.time() - t0
        s.stop = True
        wal.join()
        if wal.at:
            print(f"yagura TCP syslog into the write-ahead log (collected and durable; parsed and stored after it): {total} events in {wal.at:.2f} s = {total / wal.at:,.0f} events/s")
        print(f"yagura TCP syslog: {total} events in {dt:.2f} s = {total / dt:,.0f} events/s parsed to ECS, durable (send {sent:.2f} s), peak RSS {s.peak_mb():.0f} MB{'' if ok else ' (TIMEOUT)'}")
    elif mode == "rsyslog":  # rsyslog ADDR FILE PID EVENTS
        addr, out, pid, events = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        lines = syslog_lines()
        payload = b"".join(lines)
        repeat = max(1, events // len(lines) // 2)
        total = repeat * len(lines) * 2
        s = Sampler(pid); s.start()
        t0 = time.time()
        tcp_blast(addr, payload, repeat, 2)
        while file_lines(out) < total and time.time() - t0 < 600:
            time.sleep(0.05)
        dt = time.time() - t0
        s.stop = True
        print(f"rsyslog TCP -> file: {total} events in {dt:.2f} s = {total / dt:,.0f} events/s (written to a file, no parsing), peak RSS {s.peak_mb():.0f} MB")
    elif mode == "ndjson":  # ndjson HTTP PID EVENTS
        http, pid, events = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        lines = eve_lines()
        per_req = 5000
        body = b"".join(lines[i % len(lines)] for i in range(per_req))
        requests = max(1, events // per_req)
        total = requests * per_req
        base = stored(http)
        s = Sampler(pid); s.start()
        t0 = time.time()
        http_blast(http, body, requests, 4)
        acked = time.time() - t0
        print(f"yagura HTTP NDJSON acknowledged (durable in the write-ahead log; 429 retried): {total} events in {acked:.2f} s = {total / acked:,.0f} events/s")
        ok = wait_stored(http, base + total)
        dt = time.time() - t0
        s.stop = True
        print(f"yagura HTTP NDJSON: {total} events ({len(body) // per_req} B avg) in {dt:.2f} s = {total / dt:,.0f} events/s parsed to ECS, durable, peak RSS {s.peak_mb():.0f} MB{'' if ok else ' (TIMEOUT)'}")
    elif mode == "overload":  # overload HTTP PID RATE SECONDS
        http, pid, rate, secs = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
        lines = eve_lines()
        per_req = 2000
        body = b"".join(lines[i % len(lines)] for i in range(per_req))
        stop = time.time() + secs
        counts = {"sent": 0, "ok": 0, "busy": 0}
        lock = threading.Lock()
        def sender():
            next_t = time.time()
            while time.time() < stop:
                next_t += per_req / (rate / 4)
                req = urllib.request.Request(f"http://{http}/api/v1/ingest", data=body, method="POST")
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        r.read()
                        with lock: counts["ok"] += per_req
                except urllib.error.HTTPError as e:
                    with lock: counts["busy" if e.code == 429 else "sent"] += per_req
                except OSError:
                    pass
                with lock: counts["sent"] += per_req
                d = next_t - time.time()
                if d > 0: time.sleep(d)
        s = Sampler(pid, every=1.0); s.start()
        ts = [threading.Thread(target=sender) for _ in range(4)]
        for t in ts: t.start()
        for t in ts: t.join()
        s.stop = True
        rss = [r for _, r in s.samples if r]
        n = len(rss)
        per_min = []
        for m in range(0, int(secs // 60) + 1):
            part = [r for t, r in s.samples if m * 60 <= t < (m + 1) * 60 and r]
            if part:
                per_min.append(f"{max(part) / 1024:.0f}")
        first_q = rss[: max(1, n // 4)]
        last_q = rss[-max(1, n // 4):]
        anon = [r for _, r in s.anon if r]
        anon_min = []
        for m in range(0, int(secs // 60) + 1):
            part = [r for t, r in s.anon if m * 60 <= t < (m + 1) * 60 and r]
            if part:
                anon_min.append(f"{max(part) / 1024:.0f}")
        print(f"overload at {rate:,.0f} events/s offered for {secs:.0f} s: {counts['ok']:,} accepted, {counts['busy']:,} refused with 429; "
              f"RSS MB first quarter max {max(first_q) / 1024:.0f}, last quarter max {max(last_q) / 1024:.0f}, overall max {max(rss) / 1024:.0f}; per-minute max: {' '.join(per_min)}")
        print(f"  of which anonymous (heap, not mapped index files) MB: first quarter max {max(anon[: max(1, n // 4)]) / 1024:.0f}, "
              f"last quarter max {max(anon[-max(1, n // 4):]) / 1024:.0f}; per-minute max: {' '.join(anon_min)}")


main()
