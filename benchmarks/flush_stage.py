#!/usr/bin/env python3
"""Flush-path stage timing: how long the notifier takes from "flushing due groups" to "notifications
committed to the outbox", for 400 single alerts posted 5 ms apart (each a new group, group_wait 0s).

Usage: python3 benchmarks/flush_stage.py target/release/clarion [more binaries...]

Runs each binary in turn on 127.0.0.1:18998 with a webhook sink on 127.0.0.1:18999 and a fresh data
directory, reads the two debug events from its log, and prints p50/p90/p99 in milliseconds. Compare two
builds on one quiet machine, in alternation (A B A B), not against numbers from another machine.
"""
import datetime
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CONFIG = """teams:
  - {name: ops, channels: [sink]}
channels:
  - name: sink
    webhook: {url: 'http://127.0.0.1:18999/hook', format: alertmanager-v4, timeout: 10s}
route:
  receiver: ops
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
limits: {max_body_bytes: 67108864, requests_per_second_per_address: 0, requests_per_second_per_token: 0}
"""


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def run(binary: str) -> list[float]:
    with tempfile.TemporaryDirectory() as d:
        config = os.path.join(d, "clarion.yml")
        with open(config, "w") as f:
            f.write(CONFIG)
        log_path = os.path.join(d, "server.log")
        with open(log_path, "w") as log:
            env = dict(os.environ, CLARION_LOG="clarion_server=debug", NO_COLOR="1")
            args = [binary, "serve", "--config", config, "--listen", "127.0.0.1:18998", "--data-dir", os.path.join(d, "data")]
            server = subprocess.Popen(args, env=env, stdout=log, stderr=log)
            try:
                for _ in range(100):
                    try:
                        urllib.request.urlopen("http://127.0.0.1:18998/-/ready")
                        break
                    except OSError:
                        time.sleep(0.1)
                for i in range(400):
                    body = json.dumps([{"labels": {"alertname": "Stage", "instance": f"i{i}"}}]).encode()
                    request = urllib.request.Request(
                        "http://127.0.0.1:18998/api/v2/alerts", data=body, headers={"Content-Type": "application/json"}
                    )
                    urllib.request.urlopen(request).read()
                    time.sleep(0.005)
                time.sleep(1)
            finally:
                server.terminate()
                server.wait()
        stages, start = [], None
        with open(log_path) as log:
            for line in log:
                m = re.match(r"(\S+)Z DEBUG", line)
                if not m:
                    continue
                at = datetime.datetime.fromisoformat(m.group(1))
                if "flushing due groups" in line:
                    start = at
                elif "notifications committed" in line and start is not None:
                    stages.append((at - start).total_seconds() * 1000)
                    start = None
        return sorted(stages)


def main() -> None:
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 18999), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    for binary in sys.argv[1:]:
        s = run(binary)
        n = len(s)
        print(f"{binary}: {n} flushes, p50 {s[n // 2]:.3f} p90 {s[int(n * 0.9)]:.3f} p99 {s[int(n * 0.99)]:.3f} ms")


if __name__ == "__main__":
    main()
