"""The foundation benchmark (issue 2): cold start to /readyz, idle RSS, and authenticated
GET /api/v1/orgs throughput and p99 at concurrency 32, beside a bare axum hello-world measured in the
same run as the ceiling. Load comes from wrk on 127.0.0.1, bounded in time. Medians over rounds."""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Which binaries and where the data goes: scripts/bench-compare points these at an older build.
REL = os.environ.get("CIVITAS_REL", os.path.join(ROOT, "target", "release"))
OUT = os.environ.get("CIVITAS_BENCH_OUT", os.path.join(ROOT, "target", "bench"))


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ready(url, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return True
        except Exception:
            time.sleep(0.002)
    return False


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_civitas(data_dir, port):
    env = dict(os.environ, CIVITAS_DATA_DIR=data_dir, CIVITAS_BIND=f"127.0.0.1:{port}", CIVITAS_LOG="warn")
    env.pop("CIVITAS_DATABASE_URL", None)
    t0 = time.monotonic()
    p = subprocess.Popen([os.path.join(REL, "civitas"), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not ready(f"http://127.0.0.1:{port}/readyz"):
        p.kill()
        sys.exit("civitas did not become ready")
    return p, (time.monotonic() - t0) * 1000


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()


def wrk(url, seconds, token=None):
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        sys.exit(f"{url}: {non2xx.group(1)} error responses\n{out}")
    return rps, p99


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orgs", type=int, default=400)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--starts", type=int, default=5)
    a = ap.parse_args()

    data = os.path.join(OUT, f"foundation-{a.orgs}x{a.users}")
    if not os.path.exists(os.path.join(data, "seeded")):
        shutil.rmtree(data, ignore_errors=True)
        os.makedirs(data)
        print(f"seeding {a.orgs} organisations and {a.users} people (once; kept in {data}) …", flush=True)
        subprocess.run([os.path.join(REL, "civitas-bench"), "seed", "--database-url", f"sqlite://{data}/civitas.db",
                        "--orgs", str(a.orgs), "--users", str(a.users)], check=True)
        open(os.path.join(data, "seeded"), "w").close()
    token = subprocess.run([os.path.join(REL, "civitas"), "token", "create", "--email", "admin@hub.bench.example", "--name", "bench"],
                           env=dict(os.environ, CIVITAS_DATA_DIR=data, CIVITAS_LOG="warn"), capture_output=True, text=True, check=True).stdout.strip()

    starts = []
    for _ in range(a.starts):
        p, ms = start_civitas(data, free_port())
        starts.append(ms)
        stop(p)

    port = free_port()
    civ, _ = start_civitas(data, port)
    time.sleep(3)
    idle_rss = rss_kb(civ.pid)
    hport = free_port()
    hello = subprocess.Popen([os.path.join(REL, "civitas-bench"), "hello", "--bind", f"127.0.0.1:{hport}"], stdout=subprocess.DEVNULL)
    ready(f"http://127.0.0.1:{hport}/")
    h_rps, h_p99, c_rps, c_p99 = [], [], [], []
    url = f"http://127.0.0.1:{port}/api/v1/orgs"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as r:
        body = json.load(r)
        assert len(body["items"]) == 50, "the benchmark reads a full default page"
    for _ in range(a.rounds):
        r, p = wrk(f"http://127.0.0.1:{hport}/", a.seconds)
        h_rps.append(r); h_p99.append(p)
        r, p = wrk(url, a.seconds, token)
        c_rps.append(r); c_p99.append(p)
    loaded_rss = rss_kb(civ.pid)
    stop(civ)
    hello.kill()

    med = statistics.median
    result = {
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, {platform.platform()}",
        "dataset": f"{a.orgs} organisations, {a.users} people (SQLite)",
        "cold_start_ms_median": round(med(starts), 1),
        "cold_start_ms_all": [round(s, 1) for s in starts],
        "idle_rss_mb": round(idle_rss / 1024, 1),
        "rss_after_load_mb": round(loaded_rss / 1024, 1),
        "hello_rps_median": round(med(h_rps)),
        "hello_p99_ms_median": round(med(h_p99), 2),
        "orgs_rps_median": round(med(c_rps)),
        "orgs_p99_ms_median": round(med(c_p99), 2),
        "orgs_rps_all": [round(x) for x in c_rps],
        "hello_rps_all": [round(x) for x in h_rps],
        "ratio_to_hello": round(med(c_rps) / med(h_rps), 3),
        "wrk": f"wrk -t2 -c32 -d{a.seconds}s --latency, {a.rounds} rounds alternating",
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "foundation.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    print(f"\ncold start {result['cold_start_ms_median']} ms (target < 300), idle RSS {result['idle_rss_mb']} MB (target < 60), "
          f"GET /api/v1/orgs {result['orgs_rps_median']} req/s p99 {result['orgs_p99_ms_median']} ms = "
          f"{result['ratio_to_hello'] * 100:.1f}% of hello-world's {result['hello_rps_median']} req/s (target >= 25%)")


if __name__ == "__main__":
    main()
