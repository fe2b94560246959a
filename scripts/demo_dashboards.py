#!/usr/bin/env python3
"""How many dashboard queries return data while a real Prometheus scrapes
`assay demo`: the measurement behind tests/prometheus.rs, for any binary
(e.g. an older build, to compare).

    python3 scripts/demo_dashboards.py --assay target/debug/assay --seconds 75 120

Starts `assay demo --listen 127.0.0.1:PORT` from the repository root (the
demo reads its files from there), a Prometheus (`prometheus` on PATH)
scraping it every second (`--scrape-interval`), and at each of the given times after the demo's
start runs every PromQL expression of every panel of dashboards/*.json
(Grafana variables substituted as the test does: `$model` = credit,
`$feature` = .*, `$__rate_interval` = 1m, `$__range` = 1h) and prints how
many return a non-empty result, and which do not. Only the standard library.
"""

import argparse
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exprs(value, origin, out):
    if isinstance(value, dict):
        here = origin
        if "title" in value and "type" in value:
            here = f"{origin} / {value['title']}"
        e = value.get("expr")
        if isinstance(e, str) and e.strip():
            out.append((here, e))
        for k, v in value.items():
            if k != "templating":
                exprs(v, here, out)
    elif isinstance(value, list):
        for v in value:
            exprs(v, origin, out)


def substitute(e):
    for a, b in [
        ("${datasource}", ""),
        ("$__rate_interval", "1m"),
        ("${__rate_interval}", "1m"),
        ("$__interval", "15s"),
        ("${__interval}", "15s"),
        ("$__range", "1h"),
        ("${__range}", "1h"),
        ("${model}", "credit"),
        ("$model", "credit"),
        ("${job}", "assay"),
        ("$job", "assay"),
        ("${feature}", ".*"),
        ("$feature", ".*"),
    ]:
        e = e.replace(a, b)
    return e


def query(base, q):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=10) as r:
        v = json.load(r)
    if v["status"] != "success":
        return 0
    kind = v["data"]["resultType"]
    return len(v["data"]["result"]) if kind in ("vector", "matrix") else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--assay", default=str(ROOT / "target/debug/assay"))
    p.add_argument("--seconds", type=float, nargs="+", default=[75, 120])
    p.add_argument("--scrape-interval", default="1s", help="Prometheus' scrape interval")
    p.add_argument("--demo-args", default="", help="extra `assay demo` arguments")
    args = p.parse_args()

    queries = []
    for path in sorted((ROOT / "dashboards").glob("*.json")):
        exprs(json.loads(path.read_text())["panels"], path.name, queries)

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="assay-demo-dash-"))
    demo_port, prom_port = free_port(), free_port()
    (tmp / "prometheus.yml").write_text(
        f"global: {{scrape_interval: {args.scrape_interval}, scrape_timeout: 1s, "
        f"evaluation_interval: {args.scrape_interval}}}\n"
        "scrape_configs:\n  - job_name: assay\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{demo_port}']}}]\n"
    )
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={tmp / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    base = f"http://127.0.0.1:{prom_port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/-/ready", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    env = dict(os.environ, ASSAY_LOG="warn")
    demo = subprocess.Popen(
        [args.assay, "demo", "--listen", f"127.0.0.1:{demo_port}", *args.demo_args.split()],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(tmp / "demo.log", "w"), env=env)
    started = time.monotonic()
    try:
        for at in sorted(args.seconds):
            time.sleep(max(0.0, started + at - time.monotonic()))
            empty = [(o, q) for o, e in queries if query(base, q := substitute(e)) == 0]
            print(f"after {at:.0f} s: {len(queries) - len(empty)} of {len(queries)} "
                  "dashboard queries return data")
            for o, q in empty:
                print(f"  empty: {o}\n         {q}")
    finally:
        demo.kill()
        prom.kill()
        demo.wait()
        prom.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
