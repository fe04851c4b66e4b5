"""The billing benchmark (issue 4): usage ingestion by API in batches, records per second, beside the store
alone (the same records through `store::billing::usage::ingest`, no HTTP and no JSON) measured in the same
run as the baseline. A region of 351 members; optionally a table preloaded with N records first, so that the
rate is measured where a hub's usage table would be after months of metering. Medians over rounds."""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")
OUT = os.path.join(ROOT, "target", "bench")


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
            time.sleep(0.01)
    return False


def bench(*args, env=None):
    out = subprocess.run([os.path.join(REL, "civitas-bench"), *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"civitas-bench {args[0]} failed: {out.stderr}")
    return out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--size", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--preload", type=int, default=0, help="records stored before the rounds")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    data = os.path.join(OUT, "billing-run")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    url = f"sqlite://{data}/civitas.db"
    bench("seed", "--database-url", url, "--orgs", "352", "--users", "3510")
    if a.preload:
        t0 = time.monotonic()
        size = 10_000
        bench("usage-direct", "--database-url", url, "--batches", str(max(1, a.preload // size)),
              "--size", str(size), "--prefix", "preload", "--month", "2026-08")
        print(f"preloaded {a.preload} records in {time.monotonic() - t0:.0f} s", flush=True)
    env = dict(os.environ, CIVITAS_DATA_DIR=data, CIVITAS_LOG="warn", CIVITAS_JOBS="false")
    env.pop("CIVITAS_DATABASE_URL", None)
    token = subprocess.run([os.path.join(REL, "civitas"), "token", "create", "--email", "admin@hub.bench.example",
                            "--name", "bench"], capture_output=True, text=True, env=env, check=True).stdout.strip()
    port = free_port()
    load = ["--batches", str(a.batches), "--size", str(a.size)]
    api, direct = [], []
    for r in range(a.rounds):
        server = subprocess.Popen([os.path.join(REL, "civitas"), "serve", "--bind", f"127.0.0.1:{port}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not ready(f"http://127.0.0.1:{port}/readyz"):
                sys.exit("civitas did not become ready")
            res = json.loads(bench("usage-api", "--url", f"http://127.0.0.1:{port}", "--token", token,
                                   "--concurrency", str(a.concurrency), "--prefix", f"api{r}", *load))
            api.append(res)
            print(f"round {r + 1} api    {res['records_per_s']:>8.0f} records/s  batch p50 {res['batch_p50_ms']} ms, p99 {res['batch_p99_ms']} ms", flush=True)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        res = json.loads(bench("usage-direct", "--database-url", url, "--prefix", f"direct{r}", *load))
        direct.append(res)
        print(f"round {r + 1} direct {res['records_per_s']:>8.0f} records/s  batch p50 {res['batch_p50_ms']} ms", flush=True)
    med = lambda xs, k: statistics.median(x[k] for x in xs)
    result = {
        "machine": f"{os.cpu_count()} CPUs, {platform.release()}",
        "command": "scripts/bench-billing " + " ".join(sys.argv[1:]),
        "members": 351,
        "preloaded_records": a.preload,
        "batch_size": a.size,
        "batches_per_round": a.batches,
        "concurrency": a.concurrency,
        "api_records_per_s": med(api, "records_per_s"),
        "api_batch_p50_ms": med(api, "batch_p50_ms"),
        "api_batch_p99_ms": med(api, "batch_p99_ms"),
        "direct_records_per_s": med(direct, "records_per_s"),
        "api_vs_direct": round(med(api, "records_per_s") / med(direct, "records_per_s"), 3),
        "rounds": {"api": api, "direct": direct},
    }
    with open(os.path.join(OUT, "billing.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=2))


if __name__ == "__main__":
    main()
