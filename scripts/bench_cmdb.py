"""The CMDB benchmarks (issue 5).

1. Impact analysis on 1,000,000 items and ~3,000,000 relationships: a region of 351 members whose CMDB is
   1,000 clusters of 1,000 items in six layers (2 arrays, 18 hosts, 80 VMs, 200 databases, 300 applications,
   400 business services; each item depends on three of the layer below), seeded once through the store's
   CSV import and bulk relate (`civitas-bench seed-cmdb`, kept in target/bench/). On a fresh copy, a server
   answers `GET /api/v1/cis/{id}/impact?depth=5` for random arrays — the deepest walks, each reaching its
   whole cluster (~1,000 items over five levels) — one request at a time: p50 and p99.
2. A CSV import of 100,000 items (virtual machines with four attributes) for one member through
   `POST /api/v1/cis/import` on the same server: wall time, client side."""

import argparse
import json
import os
import platform
import shutil
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


def ready(url, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return True
        except Exception:
            time.sleep(0.05)
    return False


def run(*args, env=None):
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{args[0]} {args[1]} failed: {out.stderr}")
    return out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clusters", type=int, default=1000, help="clusters of 1,000 items")
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3, help="impact rounds, each on a fresh server")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    seeded = os.path.join(OUT, f"cmdb-351x{a.clusters}")
    bench = os.path.join(REL, "civitas-bench")
    if not os.path.exists(os.path.join(seeded, "civitas.db")):
        shutil.rmtree(seeded, ignore_errors=True)
        os.makedirs(seeded)
        print(f"seeding {a.clusters * 1000:,} items (once) ...", flush=True)
        t = time.monotonic()
        print(run(bench, "seed-cmdb", "--database-url", f"sqlite://{seeded}/civitas.db", "--clusters", str(a.clusters)).strip().splitlines()[-1])
        print(f"seeded in {time.monotonic() - t:.0f} s", flush=True)
    work = seeded + "-run"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(seeded, work)
    env = dict(os.environ, CIVITAS_DATA_DIR=work)
    token = run(os.path.join(REL, "civitas"), "token", "create", "--email", "admin@hub.bench.example", "--name", "bench", env=env).strip().splitlines()[-1]

    def serve(do_import):
        """One server on the working copy: impact walks, then (optionally) the import."""
        port = free_port()
        server = subprocess.Popen([os.path.join(REL, "civitas"), "serve", "--bind", f"127.0.0.1:{port}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            if not ready(base + "/readyz"):
                sys.exit("the server did not become ready")
            impact = json.loads(run(bench, "impact-api", "--url", base, "--token", token, "--database-url",
                                    f"sqlite://{work}/civitas.db", "--requests", str(a.requests)))
            print(f"impact, depth 5: p50 {impact['p50_ms']} ms, p99 {impact['p99_ms']} ms "
                  f"({impact['affected_median']} items affected per walk)", flush=True)
            imp = None
            if do_import:
                imp = json.loads(run(bench, "cmdb-import-api", "--url", base, "--token", token, "--rows", str(a.rows)))
                print(f"CSV import of {imp['rows']:,} items: {imp['seconds']:.2f} s", flush=True)
            return impact, imp
        finally:
            server.terminate()
            server.wait(timeout=30)

    # Each round a fresh server (its caches cold, the operating system's warm): the spread between rounds is
    # the machine's noise.
    runs = [serve(False)[0] for _ in range(a.rounds)]
    imp = serve(True)[1]

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    def summary(rs):
        return {"rounds": len(rs), "requests": rs[0]["requests"], "affected_median": rs[0]["affected_median"],
                "p50_ms": median([r["p50_ms"] for r in rs]), "p99_ms": median([r["p99_ms"] for r in rs]),
                "p99_per_round": [r["p99_ms"] for r in rs]}

    impact = summary(runs)
    result = {
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "items": a.clusters * 1000,
        "impact": impact,
        "import": imp,
    }
    with open(os.path.join(OUT, "cmdb.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
