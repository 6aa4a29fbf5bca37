#!/usr/bin/python3
"""Observe Electrum 4.3.4's watchtower CLIENT against misbehaving towers.

    /usr/bin/python3 record_quirks.py [--markdown]

For each scenario: start quirk_tower.py with the given quirk, run
electrum_client_sync.py against it, report what Electrum did (ctns sent,
number of add_sweep_tx calls, exception raised out of
sync_channel_with_watchtower, whether the sync_with_remote_watchtower loop
survived).  The table in README.md ("Client-side behaviour") is this output.
Takes ~40 s.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness_util import HERE, PY, Proc, run_client

SCENARIOS = [
    # (name, quirk_tower args, client mode)
    ("baseline: get_ctn 0, all ok", [], "direct"),
    ("get_ctn -> -1", ["--get-ctn", "-1"], "direct"),
    ("get_ctn -> 3 (tower claims ctns 1..3)", ["--get-ctn", "3"], "direct"),
    ("get_ctn -> 99 (beyond current ctn)", ["--get-ctn", "99"], "direct"),
    ("get_ctn -> JSON-RPC error", ["--get-ctn", "error"], "direct"),
    ("get_ctn -> HTTP 500", ["--get-ctn", "http500"], "direct"),
    ("get_ctn -> 200 but Content-Type text/plain", ["--get-ctn", "text"], "direct"),
    ("add_sweep_tx #2 -> JSON-RPC error", ["--add", "error", "--add-at", "2"], "direct"),
    ("add_sweep_tx #2 -> HTTP 500", ["--add", "http500", "--add-at", "2"], "direct"),
    ("add_sweep_tx #2 -> 200 but Content-Type text/plain", ["--add", "text", "--add-at", "2"], "direct"),
    ("add_sweep_tx #2 -> 200 application/json, body not JSON", ["--add", "garbage", "--add-at", "2"], "direct"),
    ("loop: get_ctn -> JSON-RPC error", ["--get-ctn", "error"], "loop"),
    ("loop: add_sweep_tx #2 -> JSON-RPC error", ["--add", "error", "--add-at", "2"], "loop"),
]


def run(workdir):
    rows = []
    for i, (name, qargs, mode) in enumerate(SCENARIOS):
        log = os.path.join(workdir, f"q{i}.jsonl")
        tw = Proc([PY, os.path.join(HERE, "quirk_tower.py"), "--port", "0", "--log", log, *qargs],
                  stderr_path=os.path.join(workdir, f"q{i}.stderr"))
        out = os.path.join(workdir, f"q{i}.json")
        try:
            rc, so, se = run_client(f"http://u:p@127.0.0.1:{tw.port}", out, "--mode", mode)
        finally:
            tw.stop()
        d = json.load(open(out))
        rows.append({
            "scenario": name, "mode": mode, "harness_rc": rc,
            "get_ctn_seen_by_electrum": d["tower_get_ctn_reply"],
            "ctns_sent": d["ctns_sent"],
            "add_sweep_tx_calls": d["num_sweeps_sent"],
            "exception": d["sync_exception"],
            "loop_alive": d["electrum_loop_alive_after_pass"],
            "errors_ignored_by_electrum": [e["reply"] for e in d["errors"] if e["method"] == "add_sweep_tx"],
        })
    # one more: nothing listening at all
    out = os.path.join(workdir, "q_refused.json")
    import socket
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    for mode in ("direct", "loop"):
        rc, so, se = run_client(f"http://u:p@127.0.0.1:{port}", out, "--mode", mode)
        d = json.load(open(out))
        rows.append({"scenario": "connection refused", "mode": mode, "harness_rc": rc,
                     "get_ctn_seen_by_electrum": d["tower_get_ctn_reply"], "ctns_sent": d["ctns_sent"],
                     "add_sweep_tx_calls": d["num_sweeps_sent"], "exception": d["sync_exception"],
                     "loop_alive": d["electrum_loop_alive_after_pass"], "errors_ignored_by_electrum": []})
    return rows


def main():
    workdir = tempfile.mkdtemp(prefix="argus-electrum-quirks-")
    rows = run(workdir)
    if "--markdown" in sys.argv:
        print("| scenario | mode | get_ctn as seen by Electrum | ctns sent | add_sweep_tx calls | raised out of sync_channel_with_watchtower | loop alive after | harness exit |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            ex = (r["exception"] or "-").replace("|", "\\|")
            if len(ex) > 110:
                ex = ex[:107] + "..."
            g = repr(r["get_ctn_seen_by_electrum"]).replace("|", "\\|")
            if len(g) > 70:
                g = g[:67] + "...'"
            la = "-" if r["loop_alive"] is None else ("yes" if r["loop_alive"] else "no (dead until restart)")
            print(f"| {r['scenario']} | {r['mode']} | `{g}` | {r['ctns_sent']} | {r['add_sweep_tx_calls']} | {ex} | {la} | {r['harness_rc']} |")
    else:
        print(json.dumps(rows, indent=1))
    print(f"(files in {workdir})", file=sys.stderr)


if __name__ == "__main__":
    main()
