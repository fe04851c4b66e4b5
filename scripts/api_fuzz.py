"""The work of scripts/api-fuzz (run by it, in its virtual environment): serve the demo on a throwaway data
directory, run schemathesis against the OpenAPI document, and sum up what it saw per operation."""

import argparse, contextlib, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request
from urllib.parse import urlsplit

HUB_ADMIN = "admin@melrose.example.gov"
DOCUMENT = "/api/openapi.json"  # web::pages::account serves web::openapi::document there


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ready(url, srv, timeout=300):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if srv.poll() is not None:
            sys.exit(f"civitas serve exited with {srv.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"{url} did not become ready in {timeout} s")


@contextlib.contextmanager
def serving(binary, env, log):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    srv = subprocess.Popen([binary, "serve", "--demo", "--bind", f"127.0.0.1:{port}"], env=env,
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        ready(f"{base}/readyz", srv)
        yield base
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


def operations(doc):
    """(method, template, regex) of every operation, the most literal templates first so that
    /tickets/export wins over /tickets/{id}."""
    ops = []
    for path, item in doc.get("paths", {}).items():
        for method in item:
            if method in ("get", "put", "post", "patch", "delete", "head", "options"):
                rx = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
                ops.append((method.upper(), path, rx))
    ops.sort(key=lambda o: (-len(re.sub(r"\{[^/]+?\}", "", o[1])), o[1]))
    return ops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-examples", type=int, default=10)
    ap.add_argument("--max-time", type=int, default=600)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("extra", nargs="*", help="more schemathesis arguments (after --)")
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    har = os.path.join(out, "api-fuzz.har")
    for f in (har,):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f)
    data = tempfile.mkdtemp(prefix="civitas-api-fuzz.")
    env = dict(os.environ, CIVITAS_DATA_DIR=data, CIVITAS_LOG="warn")
    schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    try:
        with open(os.path.join(out, "server.log"), "w") as log, serving(a.bin, env, log) as base:
            token = subprocess.run([a.bin, "token", "create", "--email", HUB_ADMIN, "--name", "api-fuzz"], env=env,
                                   capture_output=True, text=True, check=True).stdout.strip()
            with urllib.request.urlopen(base + DOCUMENT, timeout=30) as r:
                doc = json.load(r)
            cmd = [schemathesis, "run", base + DOCUMENT, "--url", base,
                   "--header", f"Authorization: Bearer {token}",
                   "--mode", "positive", "--max-examples", str(a.max_examples), "--max-time", str(a.max_time),
                   "--seed", str(a.seed), "--workers", "1", "--checks", "not_a_server_error",
                   "--request-timeout", "30", "--report", "har", "--report-har-path", har,
                   "--output-sanitize", "true", *a.extra]
            print(f"schemathesis on {base}{DOCUMENT}: up to {a.max_examples} examples per operation, "
                  f"{a.max_time} s at most", flush=True)
            t0 = time.monotonic()
            with open(os.path.join(out, "schemathesis.txt"), "w") as st:
                # In `out`, so that schemathesis's cache (.schemathesis/) lands there too.
                code = subprocess.run(cmd, stdout=st, stderr=subprocess.STDOUT, cwd=out,
                                      env=dict(os.environ, NO_COLOR="1")).returncode
            took = time.monotonic() - t0
    finally:
        shutil.rmtree(data, ignore_errors=True)
    if not os.path.exists(har):
        sys.exit(f"schemathesis wrote no HAR file (exit {code}); see {out}/schemathesis.txt")
    with open(har) as f:
        entries = json.load(f)["log"]["entries"]
    ops = operations(doc)
    seen = {}  # (method, template) -> list of statuses
    unmatched = 0
    for e in entries:
        method = e["request"]["method"].upper()
        path = urlsplit(e["request"]["url"]).path
        status = e["response"]["status"]
        op = next(((m, t) for m, t, rx in ops if m == method and rx.match(path)), None)
        if op is None:
            unmatched += 1
            continue
        seen.setdefault(op, []).append(status)
    server_errors = sum(1 for s in (st for v in seen.values() for st in v) if s >= 500)
    accepted = [op for op, sts in seen.items() if any(s < 400 or s >= 500 for s in sts)]
    only_4xx = sorted(op for op, sts in seen.items() if all(400 <= s < 500 for s in sts))
    with_5xx = sorted(op for op, sts in seen.items() if any(s >= 500 for s in sts))
    per_op = {f"{m} {t}": sorted(set(sts)) for (m, t), sts in sorted(seen.items())}
    summary = {
        "operations_in_document": len(ops),
        "operations_tested": len(seen),
        "requests": sum(len(v) for v in seen.values()),
        "server_errors_5xx": server_errors,
        "operations_with_5xx": [f"{m} {t}" for m, t in with_5xx],
        "operations_accepted": len(accepted),
        "accepted_share": round(len(accepted) / len(seen), 3) if seen else 0.0,
        "operations_only_4xx": [f"{m} {t}" for m, t in only_4xx],
        "statuses_per_operation": per_op,
        "schemathesis_exit": code,
        "seconds": round(took, 1),
    }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"operations tested: {len(seen)} of {len(ops)} in the document ({summary['requests']} requests, "
          f"{took:.0f} s{f', {unmatched} requests matched no operation' if unmatched else ''})")
    print(f"5xx answers: {server_errors} (on {len(with_5xx)} operations)")
    for m, t in with_5xx:
        print(f"  {m} {t}")
    print(f"operations whose generated data was accepted (a non-4xx answer at least once): {len(accepted)} of "
          f"{len(seen)} = {100 * summary['accepted_share']:.0f}%")
    print(f"details: {out}/summary.json, {out}/schemathesis.txt, {har}")


if __name__ == "__main__":
    main()
