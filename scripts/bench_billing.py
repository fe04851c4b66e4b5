"""The billing benchmarks (issue 4).

1. Usage ingestion by API in batches, records per second, beside the store alone (the same records through
   `store::billing::usage::ingest`, no HTTP and no JSON) measured in the same run as the baseline. A region of
   351 members; optionally a table preloaded with N records first. Medians over rounds.
2. An invoice run: 351 members x 40 subscriptions (20 metered, half the prices changing mid-month, some
   subscriptions starting mid-month) over a month with 10,000,000 usage records (seeded once by
   `civitas-bench seed-billing`, kept in target/bench/), through `POST /api/v1/invoice-runs` on a fresh
   server: wall time of each run (a rerun replaces the drafts) and the server's peak RSS."""

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
    ap.add_argument("--records", type=int, default=10_000_000, help="usage records of the invoice run's month")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-invoice-run", action="store_true")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    result = {}
    if not a.skip_ingest:
        result["ingest"] = ingest(a)
    if not a.skip_invoice_run:
        result["invoice_run"] = invoice_run(a)
    result["machine"] = f"{os.cpu_count()} CPUs, {platform.release()}"
    result["command"] = "scripts/bench-billing " + " ".join(sys.argv[1:])
    with open(os.path.join(OUT, "billing.json"), "w") as f:
        json.dump(result, f, indent=2)


def vm_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def invoice_run(a):
    data = os.path.join(OUT, f"billing-351x{a.records}")
    url = f"sqlite://{data}/civitas.db"
    if not os.path.exists(os.path.join(data, "seeded")):
        shutil.rmtree(data, ignore_errors=True)
        os.makedirs(data)
        t0 = time.monotonic()
        print(f"seeding 351 members x 40 subscriptions and {a.records} usage records (once) ...", flush=True)
        bench("seed-billing", "--database-url", url, "--records", str(a.records))
        print(f"seeded in {time.monotonic() - t0:.0f} s", flush=True)
        open(os.path.join(data, "seeded"), "w").close()
    work = data + "-run"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(data, work)
    env = dict(os.environ, CIVITAS_DATA_DIR=work, CIVITAS_LOG="warn", CIVITAS_JOBS="false")
    env.pop("CIVITAS_DATABASE_URL", None)
    token = subprocess.run([os.path.join(REL, "civitas"), "token", "create", "--email", "admin@hub.bench.example",
                            "--name", "bench"], capture_output=True, text=True, env=env, check=True).stdout.strip()
    port = free_port()
    server = subprocess.Popen([os.path.join(REL, "civitas"), "serve", "--bind", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = []
    try:
        if not ready(f"http://127.0.0.1:{port}/readyz"):
            sys.exit("civitas did not become ready")
        idle = vm_kb(server.pid, "VmRSS")
        for r in range(a.rounds):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/invoice-runs", method="POST",
                                         data=json.dumps({"period": "2026-09"}).encode(),
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            t0 = time.monotonic()
            with urllib.request.urlopen(req, timeout=600) as resp:
                report = json.loads(resp.read())
            secs = time.monotonic() - t0
            runs.append({"seconds": round(secs, 3), "drafts": report["drafts"], "lines": report["lines"], "problems": len(report["problems"]),
                         "total_cents": report["total_cents"], "rss_mb_after": round(vm_kb(server.pid, "VmRSS") / 1024, 1)})
            print(f"invoice run {r + 1}: {secs:.2f} s, {report['drafts']} drafts, total ${report['total_cents'] / 100:,.2f}", flush=True)
        peak = vm_kb(server.pid, "VmHWM")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    res = {
        "members": 351, "subscriptions_per_member": 40, "usage_records": a.records,
        "seconds_median": statistics.median(r["seconds"] for r in runs),
        "server_rss_mb_idle": round(idle / 1024, 1), "server_rss_mb_peak": round(peak / 1024, 1),
        "invoice_lines": runs[-1]["lines"] if runs else 0, "runs": runs,
    }
    print(json.dumps(res, indent=2), flush=True)
    return res


def ingest(a):
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
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=2))
    return result


if __name__ == "__main__":
    main()
