#!/usr/bin/python3
"""Validate electrum_client_sync.py against Electrum 4.3.4's own tower.

    /usr/bin/python3 check_reference.py        (or: bash check_reference.sh)

1. starts electrum_reference_tower.py (temp datadir, free port);
2. runs electrum_client_sync.py --mode direct: must exit 0, get_ctn -> 0,
   sweeps for ctns 1..5 (ctn 0 is revoked but never sent, see README);
3. opens the tower's SweepStore sqlite (<datadir>/regtest/watchtower_db) and
   checks it holds exactly the sweeps of the JSON (same ctn, prevout, raw tx,
   same count) and the channel (funding outpoint, funding address);
4. runs the client again with --mode loop (Electrum's real
   sync_with_remote_watchtower loop): get_ctn must now answer 5, nothing is
   re-sent, the store is unchanged;
5. runs the client with a wrong password: must exit non-zero (403 ->
   JsonRPCClient returns 'Error: Forbidden' -> Electrum raises TypeError);
6. stops the tower with SIGTERM, which must exit 0.
Prints 'N passed, N failed'; exit 0 iff all passed.  Takes ~12 s.
"""
import json
import os
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness_util import HERE, PY, Proc, run_client


def sweepstore_rows(db):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = c.execute("SELECT funding_outpoint, ctn, prevout, tx FROM sweep_txs").fetchall()
        chans = c.execute("SELECT outpoint, address FROM channel_info").fetchall()
    finally:
        c.close()
    return [(o, ctn, p, bytes(tx).hex()) for o, ctn, p, tx in rows], chans


def check_reference(workdir=None, verbose=True):
    workdir = workdir or tempfile.mkdtemp(prefix="argus-electrum-check-")
    datadir = os.path.join(workdir, "tower")
    results = []

    def check(name, ok, detail=""):
        results.append((name, bool(ok)))
        if verbose:
            print(f"{'PASS' if ok else 'FAIL'}: {name}" + (f" -- {detail}" if detail and not ok else ""), flush=True)
        return ok

    t0 = time.monotonic()
    tower = Proc([PY, os.path.join(HERE, "electrum_reference_tower.py"), "--port", "0",
                  "--user", "argus", "--password", "s3cret", "--datadir", datadir],
                 stderr_path=os.path.join(workdir, "tower.stderr"))
    db = os.path.join(datadir, "regtest", "watchtower_db")
    url = f"http://argus:s3cret@127.0.0.1:{tower.port}"
    try:
        # --- first sync (direct mode)
        out1 = os.path.join(workdir, "sync1.json")
        rc, so, se = run_client(url, out1, "--mode", "direct")
        check("first sync exits 0", rc == 0, se.strip())
        d1 = json.load(open(out1))
        check("get_ctn of a new channel answers 0", d1["tower_get_ctn_reply"] == 0, repr(d1["tower_get_ctn_reply"]))
        check("at least 3 revoked ctns", len(d1["revoked_ctns"]) >= 3, d1["revoked_ctns"])
        check("ctns 1..5 sent (ctn 0 never: range(0 + 1, 6))", d1["ctns_sent"] == [1, 2, 3, 4, 5], d1["ctns_sent"])
        kinds = [s["kind"] for s in d1["sweeps_sent"]]
        check("sweeps include HTLC second-stage (success and timeout)",
              any("htlc-success" in k for k in kinds) and any("htlc-timeout" in k for k in kinds), kinds)
        check("every sent sweep equals lnsweep.create_sweeptxs_for_watchtower's",
              all(s["matches_create_sweeptxs"] for s in d1["sweeps_sent"]))
        n_expected = sum(len(v) for c, v in d1["sweeps_by_revoked_ctn"].items() if int(c) >= 1)
        check("sent count == create_sweeptxs count for ctns 1..5", d1["num_sweeps_sent"] == n_expected,
              f"{d1['num_sweeps_sent']} vs {n_expected}")

        # --- inspect Electrum's SweepStore
        rows, chans = sweepstore_rows(db)
        want = sorted((d1["funding_outpoint"], s["ctn"], s["prevout"], s["raw_tx"]) for s in d1["sweeps_sent"])
        check(f"SweepStore holds {len(want)} sweeps, same count as JSON", len(rows) == len(want),
              f"{len(rows)} rows vs {len(want)}")
        check("SweepStore rows == JSON sweeps (outpoint, ctn, prevout, raw tx)", sorted(rows) == want)
        check("SweepStore channel_info == (funding_outpoint, funding_address)",
              chans == [(d1["funding_outpoint"], d1["funding_address"])], chans)
        per_ctn_db = {}
        for _, ctn, _, _ in rows:
            per_ctn_db[ctn] = per_ctn_db.get(ctn, 0) + 1
        per_ctn_json = {int(c): len(v) for c, v in d1["sweeps_sent_by_ctn"].items() if v}
        check("per-ctn counts match", per_ctn_db == per_ctn_json, f"{per_ctn_db} vs {per_ctn_json}")

        # --- second sync through Electrum's real sync_with_remote_watchtower loop
        out2 = os.path.join(workdir, "sync2.json")
        rc, so, se = run_client(url, out2, "--mode", "loop")
        check("second sync (loop mode) exits 0", rc == 0, se.strip())
        d2 = json.load(open(out2))
        check("get_ctn now answers 5 (max ctn stored)", d2["tower_get_ctn_reply"] == 5, d2["tower_get_ctn_reply"])
        check("nothing re-sent", d2["num_sweeps_sent"] == 0, d2["num_sweeps_sent"])
        check("Electrum's loop still alive after a clean pass", d2["electrum_loop_alive_after_pass"] is True)
        rows2, _ = sweepstore_rows(db)
        check("SweepStore unchanged", sorted(rows2) == sorted(rows))

        # --- wrong password
        out3 = os.path.join(workdir, "sync3.json")
        rc, so, se = run_client(f"http://argus:wrong@127.0.0.1:{tower.port}", out3, "--mode", "direct")
        d3 = json.load(open(out3))
        check("wrong password: client exits non-zero", rc != 0)
        check("wrong password: get_ctn -> 'Error: Forbidden', Electrum raises TypeError",
              d3["tower_get_ctn_reply"] == "Error: Forbidden" and (d3["sync_exception"] or "").startswith("TypeError"),
              f"{d3['tower_get_ctn_reply']!r} {d3['sync_exception']!r}")
    finally:
        rc = tower.stop()
    check("reference tower exits 0 on SIGTERM", rc == 0, f"rc={rc}, see {workdir}/tower.stderr")
    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    if verbose:
        print(f"({time.monotonic() - t0:.1f} s, files in {workdir})")
        print(f"{passed} passed, {failed} failed")
    return failed == 0


if __name__ == "__main__":
    sys.exit(0 if check_reference() else 1)
