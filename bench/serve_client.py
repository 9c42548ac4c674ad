"""What the load generators of bench/ingest.sh and bench/stream.sh share: reading a process's
RSS, reading `yagura serve`'s /metrics, and posting NDJSON with the retry a shipper does on 429."""
import threading, time, urllib.error, urllib.request


def rss_kb(pid, field="VmRSS"):
    """Resident memory of `pid` in KiB (0 once it is gone). `RssAnon`: its heap and stacks only,
    without the pages of files it maps (the store's index segments), which the kernel may drop."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for l in f:
                if l.startswith(field + ":"):
                    return int(l.split()[1])
    except OSError:
        return 0
    return 0


class Sampler(threading.Thread):
    """Samples the RSS of `pid` every `every` seconds until `stop` is set."""

    def __init__(self, pid, every=0.25):
        super().__init__(daemon=True)
        self.pid, self.every, self.samples, self.stop = pid, every, [], False
        self.anon = []  # (seconds, RssAnon KiB), sampled with `samples`

    def run(self):
        t0 = time.time()
        while not self.stop:
            t = time.time() - t0
            self.samples.append((t, rss_kb(self.pid)))
            self.anon.append((t, rss_kb(self.pid, "RssAnon")))
            time.sleep(self.every)

    def peak_mb(self):
        return max((s for _, s in self.samples), default=0) / 1024


def metric(http, name):
    """The value of one unlabelled metric of the server at `http` (0 when absent)."""
    with urllib.request.urlopen(f"http://{http}/metrics", timeout=5) as r:
        for l in r.read().decode().splitlines():
            if l.startswith(name + " "):
                return float(l.split()[1])
    return 0.0


def post_ndjson(http, body, timeout=60):
    """POSTs `body` to /api/v1/ingest; on 429 (the write-ahead log at its bound) waits 50 ms and
    sends it again, as shippers do."""
    while True:
        req = urllib.request.Request(f"http://{http}/api/v1/ingest", data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                r.read()
                return
        except urllib.error.HTTPError as e:
            if e.code != 429:
                raise
            time.sleep(0.05)
