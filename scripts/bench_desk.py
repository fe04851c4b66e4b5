"""Service desk benchmarks (issue 3): with a large synthetic desk on SQLite — ticket creation through the API
at concurrency 1 and 32, the agent queue view (50 rows, one member, one status, sorted by SLA due), full-text
search, the SLA recomputation of every open ticket after a calendar change, and the server's memory. Load
comes from wrk on 127.0.0.1, bounded in time. Medians over rounds. With --rt, Request Tracker 5 is measured
in the same run through bench/peers/rt (creating and listing tickets at 5,000 tickets).

Two reference points bound what one durable commit per request can reach on this machine, measured in the
same run: the HTTP round trip alone (GET /healthz and an authenticated GET of one ticket at one client), and
ticket creation on a copy of the data stripped of every secondary index and of the search index (the
"ceiling": what creation would cost if the desk kept nothing but the rows themselves)."""

import argparse, contextlib, json, os, re, shutil, signal, socket, statistics, subprocess, sys, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Which binaries and where the data goes: scripts/bench-compare points these at an older build.
REL = os.environ.get("CIVITAS_REL", os.path.join(ROOT, "target", "release"))
OUT = os.environ.get("CIVITAS_BENCH_OUT", os.path.join(ROOT, "target", "bench"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ready(url, timeout=60):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"{url} did not become ready")


def server_env(data_dir, **extra):
    """The environment of a benchmarked server on `data_dir` as users run it — the job runner on — with quiet
    logs. `extra` adds settings (an SMTP server, the sqlx-only baseline)."""
    env = dict(os.environ, CIVITAS_DATA_DIR=data_dir, CIVITAS_LOG="warn", CIVITAS_JOBS="true")
    env.update(extra)
    return env


def bench_token(env):
    """A token of the bench hub administrator, in the database of `env`'s data directory."""
    return subprocess.run([os.path.join(REL, "civitas"), "token", "create", "--email", "admin@hub.bench.example",
                           "--name", "bench"], env=env, capture_output=True, text=True, check=True).stdout.strip()


@contextlib.contextmanager
def serving(env):
    """`civitas serve` with `env` on a free port, ready; yields (process, base URL), stops it after."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    srv = subprocess.Popen([os.path.join(REL, "civitas"), "serve", "--bind", f"127.0.0.1:{port}"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready(f"{base}/readyz")
        yield srv, base
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=30)


def mem_kb(pid):
    rss = pss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def parse_latency(out):
    got = {}
    for q in ("50%", "99%"):
        m = re.search(q.replace("%", r"%") + r"\s+([\d.]+)(us|ms|s)", out)
        if m:
            got[q] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        sys.exit(f"error responses during the run:\n{out}")
    return rps, got.get("50%"), got.get("99%")


def wrk(url, seconds, conns, token, script=None):
    cmd = ["wrk", f"-t{min(conns, 2)}", f"-c{conns}", f"-d{seconds}s", "--latency", "-H", f"Authorization: Bearer {token}"]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    env = dict(os.environ, CIVITAS_BENCH_TOKEN=token)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return parse_latency(out)


# What the stripped copy drops: every secondary index of the rows an opening writes (tickets, history,
# notification jobs, audit) and the full-text index, which becomes a plain table of the same columns.
STRIP = """
DROP INDEX tickets_queue; DROP INDEX tickets_assignee; DROP INDEX tickets_requester;
DROP INDEX tickets_created; DROP INDEX tickets_sla_check;
DROP INDEX tickets_org_status_queue; DROP INDEX ticket_events_ticket; DROP INDEX jobs_queued; DROP INDEX audit_org;
DROP TABLE ticket_fts; CREATE TABLE ticket_fts (subject, body);
"""


def ceiling(data, a, script):
    """Creation at one client on a copy without the secondary indexes and the search index."""
    import sqlite3
    work = data + "-ceiling"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(data, work)
    try:
        con = sqlite3.connect(os.path.join(work, "civitas.db"))
        con.executescript(STRIP)
        con.close()
        # The bench token lives in the working copy's database: make it again here.
        env = server_env(work)
        token = bench_token(env)
        with serving(env) as (_, base):
            return [wrk(f"{base}/api/v1/tickets", a.seconds, 1, token, script) for _ in range(a.rounds)]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scrape(base):
    """The job queue's gauges from /metrics: (due jobs, leases held, age of the oldest due job in s)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as r:
        text = r.read().decode()
    got = {}
    for name in ("civitas_jobs_due_total", "civitas_jobs_running", "civitas_jobs_oldest_due_age_seconds"):
        m = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
        got[name] = float(m.group(1)) if m else 0.0
    return (int(got["civitas_jobs_due_total"]), int(got["civitas_jobs_running"]),
            got["civitas_jobs_oldest_due_age_seconds"])


def sustained(base, token, script, seconds, conns):
    """Opens tickets for `seconds` at `conns` clients while the background backlog is read every second
    from /metrics; then keeps reading until the queue is empty. Returns the load's figures, the largest
    backlog and how long the queue took to empty after the load ended."""
    import threading
    samples, stop = [], threading.Event()

    def sample():
        t0 = time.monotonic()
        while not stop.is_set():
            try:
                samples.append((round(time.monotonic() - t0, 1), *scrape(base)))
            except Exception as e:  # a scrape that fails is a gap in the series, not the end of the run
                samples.append((round(time.monotonic() - t0, 1), None, None, str(e)))
            stop.wait(1.0)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    rps, p50, p99 = wrk(f"{base}/api/v1/tickets", seconds, conns, token, script)
    ended = time.monotonic()
    stop.set()
    th.join()
    drained = None
    while time.monotonic() - ended < 300:
        due, running, _ = scrape(base)
        if due == 0 and running == 0:
            drained = round(time.monotonic() - ended, 2)
            break
        time.sleep(0.1)
    backlog = [s[1] for s in samples if s[1] is not None]
    return {"rps": round(rps, 1), "p50_ms": p50, "p99_ms": p99, "clients": conns, "seconds": seconds,
            "backlog_max": max(backlog, default=0), "backlog_median": statistics.median(backlog) if backlog else 0,
            "drained_after_s": drained, "backlog_every_second": [s[1] for s in samples]}


@contextlib.contextmanager
def smtp_sink():
    """A local SMTP server that accepts and discards mail (Python's aiosmtpd), for runs with mail on."""
    port = free_port()
    p = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c",
                          "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        yield f"smtp://127.0.0.1:{port}"
    finally:
        p.terminate()
        p.wait(timeout=10)


def request_tracker(a, result):
    """Request Tracker 5 measured in the same run (bench/peers/rt), and Civitas' figures against it."""
    out_result = {}
    rt = os.path.join(ROOT, "bench", "peers", "rt", "bench.sh")
    out = subprocess.run(["bash", rt, "--n", str(a.rt_n), "--fill", str(a.rt_fill)], capture_output=True, text=True)
    # bench.py prints "[bench] <measure> {json}" lines (search lines carry the ticket count too).
    rt_rows = {}
    for line in (out.stdout + out.stderr).splitlines():
        m = re.match(r"\[bench\]\s+(.*?)\s+(\{.*\})\s*$", line)
        if m:
            rt_rows[re.sub(r"\s+", " ", m.group(1))] = json.loads(m.group(2))
    out_result["request_tracker"] = rt_rows
    if rt_rows:
        c1 = rt_rows.get("create_seq_cookie", {}).get("tickets_per_s")
        c4 = rt_rows.get("create_c4_cookie", {}).get("tickets_per_s")
        pss = max((v.get("pss_total_mib", 0) for k, v in rt_rows.items() if k.startswith("memory")), default=0)
        def ratio(key, rt_rate, digits=1):
            return round(result[key]["rps"] / rt_rate, digits) if rt_rate and result.get(key) else None

        out_result["ratios"] = {
            "create_c1_vs_rt_c1": ratio("create_c1", c1),
            "ceiling_c1_vs_rt_c1": ratio("create_c1_ceiling_stripped", c1),
            "create_c32_vs_rt_c4": ratio("create_c32", c4),
            # Both with their notifications: RT sends its own inside the request, Civitas' job runner
            # drains them beside the load.
            "sustained_c8_mail_vs_rt_c4": ratio("sustained_c8_mail", c4),
            "sustained_c8_no_mail_vs_rt_c4": ratio("sustained_c8_no_mail", c4),
            "pss_vs_rt_largest": round(result["memory_after_load_mib"]["pss"] / pss, 3)
            if pss and "memory_after_load_mib" in result else None,
        }
    if out.returncode != 0:
        out_result["request_tracker_error"] = out.stderr[-2000:]
    return out_result


def jobs_ab(data, script, rounds, seconds):
    """Creation at 1 and 32 clients with the job runner on and off, side by side on fresh copies."""
    out = {}
    for _ in range(rounds):
        for jobs in ("true", "false"):
            work = data + "-ab"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(data, work)
            try:
                env = server_env(work, CIVITAS_JOBS=jobs)
                token = bench_token(env)
                with serving(env) as (_, base):
                    c1 = wrk(f"{base}/api/v1/tickets", seconds, 1, token, script)
                    c32 = wrk(f"{base}/api/v1/tickets", seconds, 32, token, script)
                out.setdefault(f"jobs_{jobs}", []).append({"c1": c1, "c32": c32})
                print("jobs", jobs, "c1", c1, "c32", c32, flush=True)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return out


def med(xs):
    return round(statistics.median(xs), 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=350)
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rt", action="store_true", help="also measure Request Tracker 5 (installs it from Debian)")
    ap.add_argument("--rt-n", type=int, default=200, help="tickets RT creates per client count")
    ap.add_argument("--rt-fill", type=int, default=5000, help="tickets in RT before its list is measured")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the stripped-copy ceiling of creation at one client")
    ap.add_argument("--sustained-seconds", type=int, default=60, help="length of the sustained run at 8 clients")
    ap.add_argument("--only-sustained", action="store_true", help="measure only the sustained runs (and RT with --rt)")
    ap.add_argument("--no-mail", action="store_true", help="skip the sustained run with mail on")
    ap.add_argument("--jobs-ab", action="store_true",
                    help="only: creation at 1 and 32 clients with the job runner on and off, side by side")
    a = ap.parse_args()

    data = os.path.join(OUT, f"desk-{a.members}x{a.tickets}")
    if not os.path.exists(os.path.join(data, "seeded")):
        shutil.rmtree(data, ignore_errors=True)
        os.makedirs(data)
        print(f"seeding {a.members} members and {a.tickets} tickets (once; kept in {data}) …", flush=True)
        subprocess.run([os.path.join(REL, "civitas-bench"), "seed-desk", "--database-url", f"sqlite://{data}/civitas.db",
                        "--members", str(a.members), "--tickets", str(a.tickets)], check=True)
        open(os.path.join(data, "seeded"), "w").close()
    if a.jobs_ab:
        ab = jobs_ab(data, os.path.join(ROOT, "bench", "create_ticket.lua"), max(a.rounds, 2), a.seconds)
        with open(os.path.join(OUT, "desk-jobs-ab.json"), "w") as f:
            json.dump(ab, f, indent=2)
        print(json.dumps(ab, indent=2))
        return
    # Every run starts from the same data: a working copy, so that created tickets do not pile up.
    work = data + "-run"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(data, work)
    env = server_env(work)
    token = bench_token(env)
    script = os.path.join(ROOT, "bench", "create_ticket.lua")
    res = {}
    # Sustained: tickets opened over a minute at 8 clients with the job runner draining their notifications,
    # without mail and with mail to a local SMTP server; each on a fresh copy of the data.
    for label, mail in (("sustained_c8_no_mail", False), ("sustained_c8_mail", True)):
        if mail and a.no_mail:
            continue
        fresh = data + "-sustained"
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.copytree(data, fresh)
        try:
            with contextlib.ExitStack() as stack:
                extra = {"CIVITAS_SMTP_URL": stack.enter_context(smtp_sink())} if mail else {}
                senv = server_env(fresh, **extra)
                stoken = bench_token(senv)
                _, base = stack.enter_context(serving(senv))
                res[label] = sustained(base, stoken, script, a.sustained_seconds, 8)
                print(label, json.dumps({k: v for k, v in res[label].items() if k != "backlog_every_second"}), flush=True)
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
    if a.only_sustained:
        result = {"machine": f"{os.cpu_count()} CPUs, {os.uname().release}",
                  "dataset": f"{a.members} members, {a.tickets} tickets (SQLite)", **res}
        if a.rt:
            result.update(request_tracker(a, result))
        print(json.dumps(result, indent=2))
        with open(os.path.join(OUT, "desk-sustained.json"), "w") as f:
            json.dump(result, f, indent=2)
        return
    with serving(env) as (srv, base):
        queue = f"{base}/api/v1/tickets?org=member-0042&status=in_progress&limit=50"
        search = f"{base}/api/v1/tickets?q=printer+library&open=any&sort=newest&limit=50"
        # Warm up: first reads pull pages into the cache.
        for u in (queue, search):
            wrk(u, 2, 4, token)
        res.update({k: [] for k in ("c1", "c32", "queue", "search", "healthz_c1", "get_c1")})
        for _ in range(a.rounds):
            res["healthz_c1"].append(wrk(f"{base}/healthz", a.seconds, 1, token))
            res["get_c1"].append(wrk(f"{base}/api/v1/tickets/1", a.seconds, 1, token))
            res["c1"].append(wrk(f"{base}/api/v1/tickets", a.seconds, 1, token, script))
            res["c32"].append(wrk(f"{base}/api/v1/tickets", a.seconds, 32, token, script))
            res["queue"].append(wrk(queue, a.seconds, 8, token))
            res["search"].append(wrk(search, a.seconds, 8, token))
        rss, pss = mem_kb(srv.pid)
    # The baseline in the same run: the same creations with every query through sqlx (no direct SQLite
    # connections), on the same data, after the main rounds.
    with serving(server_env(work, CIVITAS_SQLITE_DIRECT="false")) as (_, base):
        for _ in range(a.rounds):
            res.setdefault("c1_sqlx", []).append(wrk(f"{base}/api/v1/tickets", a.seconds, 1, token, script))
            res.setdefault("c32_sqlx", []).append(wrk(f"{base}/api/v1/tickets", a.seconds, 32, token, script))
    if not a.no_ceiling:
        res["c1_ceiling"] = ceiling(data, a, script)
    rec = subprocess.run([os.path.join(REL, "civitas-bench"), "sla-recompute", "--database-url", f"sqlite://{work}/civitas.db"],
                         capture_output=True, text=True, check=True).stdout.strip()
    recompute = json.loads(rec)

    def summary(rows):
        return {"rps": med([r[0] for r in rows]), "p50_ms": med([r[1] for r in rows]), "p99_ms": med([r[2] for r in rows])}

    result = {
        "machine": f"{os.cpu_count()} CPUs, {os.uname().release}",
        "dataset": f"{a.members} members, {a.tickets} tickets (SQLite)",
        "create_c1": summary(res["c1"]),
        "create_c32": summary(res["c32"]),
        "create_c1_sqlx_only": summary(res["c1_sqlx"]),
        "create_c32_sqlx_only": summary(res["c32_sqlx"]),
        "queue_view_c8": summary(res["queue"]),
        "search_c8": summary(res["search"]),
        "sla_recompute": recompute,
        "memory_after_load_mib": {"rss": round(rss / 1024, 1), "pss": round(pss / 1024, 1)},
        "http_floor_c1": {"healthz": summary(res["healthz_c1"]), "get_ticket": summary(res["get_c1"])},
        "create_vs_sqlx_only": {"c1": round(med([r[0] for r in res["c1"]]) / med([r[0] for r in res["c1_sqlx"]]), 2),
                                "c32": round(med([r[0] for r in res["c32"]]) / med([r[0] for r in res["c32_sqlx"]]), 2)},
        "sustained_c8_no_mail": res["sustained_c8_no_mail"],
        "sustained_c8_mail": res.get("sustained_c8_mail"),
        "jobs": "the job runner on in every server measured (as users run it)",
        "wrk": f"wrk -d{a.seconds}s --latency, {a.rounds} rounds; create at -c1 and -c32, reads at -c8",
    }
    if "c1_ceiling" in res:
        result["create_c1_ceiling_stripped"] = summary(res["c1_ceiling"])
    if a.rt:
        result.update(request_tracker(a, result))
    print(json.dumps(result, indent=2))
    with open(os.path.join(OUT, "desk.json"), "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
