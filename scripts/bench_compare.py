"""The work of scripts/bench-compare: the benchmarks of issues 2–5 (foundation, desk, billing, CMDB) run with
two builds in one sitting, alternately, on data each build seeds itself, and their figures side by side.

The harness is this tree's (scripts/bench_*.py); only the binaries differ. Each run writes its JSON to
target/compare/<side>/; the summary (median of the rounds per figure, and new / base) goes to stdout and
target/compare/summary.json."""

import argparse, json, os, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "compare")

# Each benchmark at a size that keeps one side's round to a few minutes on two cores.
BENCHES = {
    "foundation": ("bench_foundation.py", "foundation.json", ["--rounds", "3", "--seconds", "5", "--starts", "5"]),
    "desk": ("bench_desk.py", "desk.json", ["--tickets", "100000", "--rounds", "2", "--seconds", "5", "--no-ceiling",
                                            "--sustained-seconds", "20", "--no-mail"]),
    "billing": ("bench_billing.py", "billing.json", ["--rounds", "2", "--batches", "20", "--records", "1000000"]),
    "cmdb": ("bench_cmdb.py", "cmdb.json", ["--clusters", "100", "--requests", "200", "--rows", "20000",
                                            "--rounds", "2"]),
}

# Figures where less is better (times, memory); the rest (requests per second, rows per second) more is.
LOWER_IS_BETTER = ("_ms", "ms_", "seconds", "rss", "pss", "_mb", "mib", "latency", "p50", "p99", "backlog",
                   "drained_after_s")


def flatten(doc, prefix=""):
    """Every number in a result, keyed by its path (`create_c32.rps`); lists of rounds by their median."""
    out = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(doc, list):
        if doc and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in doc):
            if not prefix.rstrip(".").endswith("every_second"):
                out[prefix.rstrip(".")] = statistics.median(doc)
        elif doc and all(isinstance(x, dict) for x in doc):
            rows = [flatten(x) for x in doc]
            for key in set().union(*rows):
                vals = [r[key] for r in rows if key in r]
                out[f"{prefix}{key}"] = statistics.median(vals)
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        out[prefix.rstrip(".")] = doc
    return out


def build(rev):
    """Release binaries of `rev`, built once in a worktree of their own; their folder."""
    src = os.path.join(OUT, f"src-{rev}")
    target = os.path.join(OUT, f"target-{rev}")
    if not os.path.exists(src):
        subprocess.run(["git", "worktree", "add", "--detach", src, rev], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-p", "civitas", "-p", "civitas-bench"], cwd=src, check=True,
                   env=dict(os.environ, CARGO_TARGET_DIR=target))
    return os.path.join(target, "release")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="the git revision to compare against (its binaries are built)")
    ap.add_argument("--rounds", type=int, default=2, help="alternations of base and new per benchmark")
    ap.add_argument("--only", default=",".join(BENCHES), help="comma-separated: " + ",".join(BENCHES))
    ap.add_argument("--base-bin", help="a folder with REV's release binaries already built (skips the build)")
    ap.add_argument("--new-bin", help="a folder with this tree's release binaries already built (skips the build)")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    rels = {"base": a.base_bin or build(a.base), "new": a.new_bin or os.path.join(ROOT, "target", "release")}
    if not a.new_bin:
        subprocess.run(["cargo", "build", "--release", "-p", "civitas", "-p", "civitas-bench"], cwd=ROOT, check=True)
    runs = {}  # (bench, side) -> [flattened result per round]
    t0 = time.monotonic()
    done = []
    for name in a.only.split(","):
        script, result, args = BENCHES[name]
        for r in range(a.rounds):
            # Alternate which side goes first, so that a drift of the machine does not favour one.
            for side in (("base", "new") if r % 2 == 0 else ("new", "base")):
                out = os.path.join(OUT, side)
                env = dict(os.environ, CIVITAS_REL=rels[side], CIVITAS_BENCH_OUT=out)
                print(f"[{time.monotonic() - t0:5.0f} s] {name} round {r + 1}: {side}", flush=True)
                subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *args], env=env, check=True,
                               stdout=subprocess.DEVNULL)
                with open(os.path.join(out, result)) as f:
                    runs.setdefault((name, side), []).append(flatten(json.load(f)))
        # After each benchmark, so that a run cut short still leaves what it measured.
        summarise(a, runs, done + [name], t0)
        done.append(name)
    print(f"\nsummary: {OUT}/summary.json ({time.monotonic() - t0:.0f} s)")


def summarise(a, runs, names, t0):
    """Prints the figures of `names` (medians per build, new / base) and writes them to summary.json."""
    summary = {"base": a.base, "new": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                                                      capture_output=True).stdout.strip(),
               "machine": f"{os.cpu_count()} CPUs, {os.uname().release}", "rounds": a.rounds, "figures": {}}
    print(f"\n{'figure':58} {'base':>12} {'new':>12} {'new/base':>9}")
    for name in names:
        base_rows, new_rows = runs.get((name, "base"), []), runs.get((name, "new"), [])
        keys = sorted(set().union(*base_rows, *new_rows)) if base_rows and new_rows else []
        for key in keys:
            b = [r[key] for r in base_rows if key in r]
            n = [r[key] for r in new_rows if key in r]
            if not b or not n:
                continue
            mb, mn = statistics.median(b), statistics.median(n)
            ratio = round(mn / mb, 3) if mb else None
            lower = any(tag in key.lower() for tag in LOWER_IS_BETTER) and "per_s" not in key
            summary["figures"][f"{name}.{key}"] = {"base": mb, "new": mn, "ratio": ratio,
                                                   "better": "lower" if lower else "higher"}
            print(f"{name + '.' + key:58} {mb:12.2f} {mn:12.2f} {ratio if ratio is not None else '-':>9}"
                  f" ({'lower' if lower else 'higher'} is better)")
    with open(os.path.join(OUT, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
