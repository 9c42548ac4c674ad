#!/usr/bin/env python3
"""Crash test of `yagura serve`: kill -9 while senders stream over HTTP and TCP, restart, repeat.

After every restart (and at the end) it checks, from what the store holds (`yagura dump`):
  - every event the server acknowledged over HTTP (a 200 answer) is stored exactly once;
  - no event is stored twice (HTTP or TCP);
  - per TCP connection, the stored events are a gap-free prefix of what was sent (TCP has no
    application acknowledgement: only the tail in flight when the process died may be lost).
  - the store as the crash left it passes `yagura verify` (every hash and signature), and again
    at the end.

Usage: scripts/crash-test.py [--trials N] [--bin target/release/yagura]
Prints one line per trial and a summary; exits 1 on any violation. The store is read directly
(the whole store, read again after every restart).
"""
import argparse, json, os, random, re, signal, socket, subprocess, sys, tempfile, threading, time
import urllib.request, urllib.error

ap = argparse.ArgumentParser()
ap.add_argument("--trials", type=int, default=100)
ap.add_argument("--bin", default="target/release/yagura")
ap.add_argument("--seed", type=int, default=1)
args = ap.parse_args()
random.seed(args.seed)

data = tempfile.mkdtemp(prefix="yagura-crash-")


def start():
    p = subprocess.Popen(
        [args.bin, "serve", "--data-dir", data, "--http", "127.0.0.1:0", "--syslog-udp", "off",
         "--syslog-tcp", "127.0.0.1:0", "--syslog-tls", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "YAGURA_LOG": "error"})
    addrs = {}
    for line in p.stdout:
        parts = line.split()
        if parts[:1] == ["listening"]:
            addrs[parts[1]] = parts[2]
        if parts[:1] == ["ready"]:
            break
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    return p, addrs


acked = set()          # HTTP ids acknowledged by a 200
acked_lock = threading.Lock()
tcp_sent = {}          # connection name -> number of lines fully written to the socket
stop_flag = threading.Event()


def http_sender(addr, trial, k):
    n = 0
    while not stop_flag.is_set():
        ids = [f"h{trial}-{k}-{n}-{i}" for i in range(50)]
        n += 1
        body = "".join(json.dumps({"message": f"crash {x} end"}) + "\n" for x in ids).encode()
        req = urllib.request.Request(f"http://{addr}/api/v1/ingest", data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                if r.status == 200:
                    with acked_lock:
                        acked.update(ids)
        except Exception:
            return


def tcp_sender(addr, trial, k):
    host, port = addr.rsplit(":", 1)
    name = f"t{trial}-{k}"
    try:
        s = socket.create_connection((host, int(port)), timeout=5)
    except OSError:
        return
    n = 0
    tcp_sent[name] = 0
    try:
        while not stop_flag.is_set():
            lines = "".join(f"<13>Dec  2 10:00:00 h app: crash {name}-{n + i} end\n" for i in range(100))
            s.sendall(lines.encode())
            n += 100
            tcp_sent[name] = n
            time.sleep(0.01)
    except OSError:
        pass


counts = {}             # stored id -> times stored


def read_new_stored():
    """Counts every stored event's id, from `yagura dump` (the whole store, each time)."""
    counts.clear()
    out = subprocess.run([args.bin, "dump", "--data-dir", data], capture_output=True, check=True).stdout
    for m in re.finditer(rb'"message":"crash (\S+) end"', out):
        i = m.group(1).decode()
        counts[i] = counts.get(i, 0) + 1


def wait_drained(addr):
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://{addr}/healthz", timeout=2) as r:
                if json.load(r)["wal_lag_records"] == 0:
                    return
        except Exception:
            pass
        time.sleep(0.05)


def check(label):
    read_new_stored()
    dups = [i for i, c in counts.items() if c > 1]
    with acked_lock:
        missing = [i for i in acked if i not in counts]
    gaps = 0
    per_conn = {}
    for i in counts:
        if i.startswith("t"):
            name, n = i.rsplit("-", 1)
            per_conn.setdefault(name, []).append(int(n))
    for name, got in per_conn.items():
        got.sort()
        if got != list(range(len(got))):
            gaps += 1
    ok = not dups and not missing and not gaps
    return ok, sum(counts.values()), len(dups), len(missing), gaps


proc, addrs = start()
failures = 0
t0 = time.time()
for trial in range(args.trials):
    stop_flag.clear()
    senders = [threading.Thread(target=http_sender, args=(addrs["http"], trial, k), daemon=True) for k in range(2)]
    senders += [threading.Thread(target=tcp_sender, args=(addrs["syslog-tcp"], trial, k), daemon=True) for k in range(2)]
    for t in senders:
        t.start()
    time.sleep(random.uniform(0.1, 0.6))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stop_flag.set()
    for t in senders:
        t.join(timeout=10)
    # The store as the crash left it verifies (hashes, signatures; a flush cut short is no failure).
    v = subprocess.run([args.bin, "verify", "--data-dir", data], capture_output=True, text=True)
    verified = v.returncode == 0
    if not verified:
        print(f"trial {trial + 1}: store does not verify after kill -9:\n{v.stdout}{v.stderr}", flush=True)
    proc, addrs = start()
    wait_drained(addrs["http"])
    ok, stored, dups, missing, gaps = check(f"trial {trial}")
    ok = ok and verified
    failures += 0 if ok else 1
    print(f"trial {trial + 1}/{args.trials}: {'ok' if ok else 'FAIL'}; stored {stored}, http acked {len(acked)}, "
          f"duplicates {dups}, acked missing {missing}, tcp gaps {gaps}, verified {verified}", flush=True)
proc.send_signal(signal.SIGTERM)
proc.wait()
tcp_total = sum(tcp_sent.values())
print(f"summary: {args.trials} kill -9 trials in {time.time() - t0:.0f} s; {len(acked)} HTTP events acknowledged, "
      f"{tcp_total} TCP lines written by senders, {sum(counts.values())} stored; {failures} trials failed")
v = subprocess.run([args.bin, "verify", "--data-dir", data], capture_output=True, text=True)
print(v.stdout.strip().splitlines()[-1] if v.stdout.strip() else v.stderr, flush=True)
sys.exit(1 if failures or v.returncode != 0 else 0)
