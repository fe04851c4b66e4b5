"""The work of scripts/api-fuzz (run by it, in its virtual environment): serve the demo on a throwaway data
directory, run schemathesis against the OpenAPI document, and sum up what it saw per operation."""

import argparse, contextlib, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request
from urllib.parse import urlsplit

HUB_ADMIN = "admin@melrose.example.gov"
HUB_AGENT = "agent@melrose.example.gov"
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


def api(base, token, path, body=None):
    """The JSON the hub administrator gets at `path` (or by posting `body` there), or None."""
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except Exception:
        return None


def upload(base, token, path, data):
    """Posts `data` as a file body; None when refused."""
    req = urllib.request.Request(base + path, data=data, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except Exception:
        return None


def items(doc):
    if isinstance(doc, dict):
        doc = doc.get("items", doc.get("relations", []))
    return doc if isinstance(doc, list) else []


def field_of(base, token, path, field="id", nth=0):
    rows = items(api(base, token, path))
    return rows[nth].get(field) if len(rows) > nth and isinstance(rows[nth], dict) else None


MEMBER = "north-reading"
HUB = "melrose"


def known_values(base, token):
    """Records of the demo the fuzzer may name: a real one of each kind, found through the API, keyed by the
    path segment that names the kind (`/agreements/{id}` takes `agreements`). Without them, generated ids
    only ever reach 404 (the fuzzer measures validation, not lookups)."""
    v = {"orgs": MEMBER, "number": field_of(base, token, "/api/v1/tickets?limit=1", "number")}
    plain = {"agreements": "/api/v1/agreements", "articles": "/api/v1/articles", "benchmarks": "/api/v1/benchmarks",
             "catalog-items": "/api/v1/catalog-items", "cis": "/api/v1/cis", "pools": "/api/v1/cloud/pools",
             "costs": "/api/v1/costs", "exceptions": "/api/v1/exceptions",
             "invoices": "/api/v1/invoices", "mail": "/api/v1/mail?outcome=triage", "portfolio": "/api/v1/portfolio",
             "rate-cards": "/api/v1/rate-cards", "services": "/api/v1/services", "sla-policies": "/api/v1/sla-policies",
             "standards": "/api/v1/standards", "time-entries": "/api/v1/time-entries",
             "teams": "/api/v1/teams",
             "departments": f"/api/v1/orgs/{MEMBER}/departments", "sites": f"/api/v1/orgs/{MEMBER}/sites",
             "grants": f"/api/v1/orgs/{MEMBER}/grants", "users": f"/api/v1/orgs/{MEMBER}/users",
             "invitations": f"/api/v1/orgs/{MEMBER}/invitations", "proposals": f"/api/v1/orgs/{MEMBER}/proposals"}
    for kind, path in plain.items():
        v[kind] = field_of(base, token, path)
    v["portfolio"] = field_of(base, token, "/api/v1/portfolio", "ci_id")
    v["cis2"] = field_of(base, token, "/api/v1/cis", nth=1)
    # A closure, a watcher and a configuration item on the ticket: the demo has none, so make one of each.
    api(base, token, f"/api/v1/orgs/{MEMBER}/closures", {"date": "2027-03-03", "name": "Fuzzing day"})
    v["closures"] = "2027-03-03"
    if v["agreements"]:
        subs = (api(base, token, f"/api/v1/agreements/{v['agreements']}") or {}).get("subscriptions") or []
        v["subscriptions"] = subs[0]["id"] if subs else None
    if v["pools"]:
        parts = (api(base, token, f"/api/v1/cloud/pools/{v['pools']}") or {}).get("parts") or []
        v["parts"] = parts[0]["ci_id"] if parts else None
    if v["cis"]:
        v["ci-relations"] = field_of(base, token, f"/api/v1/cis/{v['cis']}/relations")
    v["number2"] = field_of(base, token, "/api/v1/tickets?limit=2", "number", nth=1)
    v["agents"] = field_of(base, token, f"/api/v1/orgs/{HUB}/users?limit=200", "id", nth=1)
    v["hub-sites"] = field_of(base, token, f"/api/v1/cis?type=site&org={HUB}")
    v["agent-email"] = HUB_AGENT
    # A token of the fuzzer's own to revoke: never the one it runs with (revoking that ended earlier runs'
    # authenticated requests after 5% of them).
    v["tokens"] = (api(base, token, "/api/v1/tokens", {"name": "api-fuzz: to revoke"}) or {}).get("id")
    v["me"] = ((api(base, token, "/api/v1/me") or {}).get("user") or {}).get("id")
    # Records a deletion or a file's download needs and the demo has not (or has only in use): made here.
    v["credits"] = (api(base, token, "/api/v1/credits", {"agreement_id": v.get("agreements"), "month": "2031-01",
                                                         "amount": "10", "reason": "Fuzzing"}) or {}).get("id")
    v["departments"] = (api(base, token, f"/api/v1/orgs/{MEMBER}/departments", {"name": "Fuzzing"}) or {}).get("id")
    api(base, token, f"/api/v1/orgs/{MEMBER}/grants", {"email": "fuzz-invitee@north-reading.example.gov",
                                                       "role": "member-staff"})
    v["invitations"] = field_of(base, token, f"/api/v1/orgs/{MEMBER}/invitations")
    if v.get("pools"):
        in_pools = {p.get("ci_id") for p in (api(base, token, f"/api/v1/cloud/pools/{v['pools']}") or {}).get("parts") or []}
        free = [c.get("id") for c in items(api(base, token, f"/api/v1/cis?org={HUB}&limit=200"))
                if c.get("id") not in in_pools and c.get("type") in ("server", "storage", "host", "cluster")]
        v["free-ci"] = free[0] if free else None
    if v.get("agreements"):
        upload(base, token, f"/api/v1/agreements/{v['agreements']}/documents?filename=fuzz.txt", b"a document")
        v["documents"] = field_of(base, token, f"/api/v1/agreements/{v['agreements']}/documents")
    if v["number"]:
        n = v["number"]
        upload(base, token, f"/api/v1/tickets/{n}/attachments?filename=fuzz.txt", b"an attachment")
        api(base, token, f"/api/v1/tickets/{n}/watchers", {"email": HUB_AGENT})
        api(base, token, f"/api/v1/tickets/{n}/cis", {"ci_id": v["cis"]})
        v["watchers"] = (field_of(base, token, f"/api/v1/tickets/{n}/watchers", "user_id")
                         or field_of(base, token, f"/api/v1/tickets/{n}/watchers"))
        v["ticket-cis"] = field_of(base, token, f"/api/v1/tickets/{n}/cis")
        v["attachments"] = field_of(base, token, f"/api/v1/tickets/{n}/attachments")
    return {k: x for k, x in v.items() if x is not None}


# Request-body properties that name a record, and the kind of record (a key of `known_values`).
BODY_NAMES = {"agreement_id": "agreements", "catalog_item_id": "catalog-items", "ci_id": "cis", "to_ci": "cis2",
              "department_id": "departments", "org": "orgs", "owner_team_id": "teams", "team_id": "teams",
              "escalation_team_id": "teams", "rate_card_id": "rate-cards", "service_id": "services",
              "sla_policy_id": "sla-policies", "standard_id": "standards", "user_id": "users",
              "assignee_id": "agents", "ticket": "number", "replacement_id": "portfolio", "article": "articles",
              "other": "number2", "into": "number2"}

# The same, for one operation's body alone: a property whose right value depends on the operation.
OPERATION_BODY_NAMES = {("post", "/api/v1/tickets/{number}/watchers"): {"email": "agent-email"},
                        ("post", "/api/v1/cloud/pools/{id}/parts"): {"ci_id": "free-ci"},
                        ("post", "/api/v1/cloud/pools"): {"site_id": "hub-sites"},
                        ("patch", "/api/v1/cloud/pools/{id}"): {"site_id": "hub-sites"}}


def with_known_values(doc, known):
    """The document with every path parameter and every record-naming body property held to a real record
    of the demo (an `enum` of one), where one is known. Returns the document and how many it held.

    The optional `Idempotency-Key` header is left out: the fuzzer draws keys from a small space and reuses
    them across different bodies, which only measures key collisions (a 422 the server owes such a client);
    replays are covered by the integration tests (`api::an_idempotency_key_makes_a_retry_safe`)."""
    held = 0
    for path, item in doc.get("paths", {}).items():
        segments = path.split("/")
        for op in item.values():
            if not isinstance(op, dict):
                continue
            op["parameters"] = [p for p in op.get("parameters", []) if p.get("name") != "Idempotency-Key"]
            for prm in op.get("parameters", []):
                if prm.get("in") != "path":
                    continue
                name = "{" + prm["name"] + "}"
                before = segments[segments.index(name) - 1]
                kind = {"{number}": "number", "{slug}": "orgs"}.get(name)
                if path == "/api/v1/users/{id}/tokens/{token}" and name == "{id}":
                    kind = "me"
                if kind is None:
                    kind = "ticket-cis" if before == "cis" and "/tickets/" in path else before
                    kind = "closures" if name == "{date}" else kind
                if kind in known:
                    prm["schema"] = dict(prm.get("schema", {}), enum=[known[kind]])
                    held += 1
    for schema in doc.get("components", {}).get("schemas", {}).values():
        held += hold_properties(schema, known)
    components = doc.get("components", {}).get("schemas", {})
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            for media in op.get("requestBody", {}).get("content", {}).values():
                names = OPERATION_BODY_NAMES.get((method, path))
                if names:
                    # A copy of its own, so that other operations sharing the schema keep theirs.
                    ref = media.get("schema", {}).get("$ref", "")
                    media["schema"] = json.loads(json.dumps(components.get(ref.rsplit("/", 1)[-1], media.get("schema", {}))))
                    held += hold_properties(media["schema"], known, names)
                held += hold_properties(media.get("schema", {}), known)
    return doc, held


def hold_properties(schema, known, names=None):
    held = 0
    if not isinstance(schema, dict):
        return 0
    names = names or BODY_NAMES
    for name, prop in schema.get("properties", {}).items():
        kind = names.get(name)
        if isinstance(prop, dict) and kind in known and "enum" not in prop:
            prop["enum"] = [known[kind]]
            prop.pop("format", None)
            held += 1
    for key in ("items", "additionalProperties"):
        held += hold_properties(schema.get(key), known, names)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            held += hold_properties(sub, known, names)
    return held


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-examples", type=int, default=10)
    ap.add_argument("--max-time", type=int, default=600)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--no-known-values", action="store_true",
                    help="let the fuzzer invent every id (the baseline of earlier runs)")
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
            known = {} if a.no_known_values else known_values(base, token)
            fuzzed, held = with_known_values(json.loads(json.dumps(doc)), known)
            fuzzed_path = os.path.join(out, "openapi-fuzzed.json")
            with open(fuzzed_path, "w") as f:
                json.dump(fuzzed, f)
            print(f"real records of the demo named: {len(known)} kinds, held in {held} parameters and properties",
                  flush=True)
            cmd = [schemathesis, "run", fuzzed_path, "--url", base,
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
    # A 401 to a request that carried the token means the token stopped working: the run measured nothing
    # after that point.
    lost_token = sum(1 for e in entries if e["response"]["status"] == 401
                     and any(h["name"].lower() == "authorization" for h in e["request"]["headers"]))
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
        "known_values": len(known),
        "held": held,
        "unauthorized_with_token": lost_token,
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
    if lost_token:
        print(f"WARNING: {lost_token} requests carrying the token were refused as unauthenticated: the token was "
              f"revoked during the run, and what came after measured nothing")
    print(f"details: {out}/summary.json, {out}/schemathesis.txt, {har}")


if __name__ == "__main__":
    main()
