#!/usr/bin/python3
"""Drive Electrum 4.3.4's OWN watchtower client code against a watchtower URL.

    /usr/bin/python3 electrum_client_sync.py --url http://user:pass@127.0.0.1:PORT --out sync.json

(/usr/bin/python3: Debian's python3-electrum 4.3.4.  The pyenv `python3` on PATH
has no electrum.)

What it does, fully offline (regtest constants):
 1. builds a channel Alice <-> Bob exactly as Electrum's unit tests do
    (electrum_channels.create_test_channels, copied from test_lnchannel.py),
    on a funding output <funding txid>:0 (see --funding-prevout/--funding-outpoint);
 2. runs SCENARIO (6 state transitions, 3 HTLCs in both directions, all settled),
    so that Bob's commitments 0..5 are revoked and ctns 1, 2, 3 and 5 carry HTLCs;
    every time Bob receives a new commitment the harness stores his fully signed
    commitment transaction and his signed first-stage HTLC transactions (the
    transactions a cheating Bob would broadcast), because Electrum forgets the
    counter-signatures once a state is revoked;
 3. syncs Alice's channel with the tower using Electrum's own code:
      --mode loop (default): the real LNWallet.sync_with_remote_watchtower()
          coroutine (URL check, make_aiohttp_session, JsonRPCClient,
          add_method('get_ctn'/'add_sweep_tx')), which calls the real
          LNWallet.sync_channel_with_watchtower(chan, watchtower).  Costs the
          function's built-in initial `await asyncio.sleep(5)`.
      --mode direct: builds the JsonRPCClient exactly as
          sync_with_remote_watchtower does and awaits the real
          LNWallet.sync_channel_with_watchtower once (no 5 s sleep).
    The JSON-RPC calls on the wire are Electrum's util.JsonRPCClient's.
 4. writes --out (see README.md for the schema) and exits 0, or exits non-zero
    with a clear message if the sync raised, could not connect, or the tower
    answered any call with an error (Electrum itself silently ignores an error
    reply to add_sweep_tx; see README).

What is stubbed (and why):
  * `self` of LNWallet.sync_with_remote_watchtower / sync_channel_with_watchtower:
    an LNWallet needs a wallet file, keystore, network, gossip...; the two
    functions only touch (read them in lnworker.py 4.3.4, lines ~737-768):
        sync_with_remote_watchtower: self.config.get('watchtower_url'),
            self.logger, self.network.proxy, self.channels.values(),
            self.sync_channel_with_watchtower(chan, watchtower)
        sync_channel_with_watchtower: nothing on self (only chan and watchtower).
    StubLNWallet provides exactly those; its sync_channel_with_watchtower is
    the real unbound LNWallet.sync_channel_with_watchtower, wrapped only to
    record what goes on the wire and to stop the infinite loop after one pass.
  * chan.lnworker (StubChannelLNWorker): Channel.create_sweeptxs ->
    lnsweep.create_sweeptxs_for_watchtower reads chan.lnworker.config (fee
    estimate: a real SimpleConfig; on regtest Electrum hard-codes 180 sat/vB)
    and chan.sweep_address asserts chan.lnworker.wallet.is_mine(addr).
    Electrum's own tests use the same kind of mock (MockLNWallet, test_lnpeer.py).
    For Bob, the capture step also uses get_payment_status/get_preimage
    (lnsweep.create_sweeptxs_for_our_ctx builds HTLC-success txs with them).
"""

import argparse
import asyncio
import atexit
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import urllib.parse

import aiohttp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from electrum import constants
constants.set_regtest()

import electrum
from electrum import lnworker, lnsweep, util
from electrum.lnutil import LOCAL, REMOTE, SENT, RECEIVED, extract_ctn_from_tx_and_chan
from electrum.invoices import PR_PAID
from electrum.logging import get_logger
from electrum.simple_config import SimpleConfig
from electrum.transaction import Transaction

import electrum_channels as ec

DEFAULT_FUNDING_SAT = 10_000_000
# a fixed, obviously fake prevout for the synthetic funding tx's only input
DEFAULT_FUNDING_PREVOUT = hashlib.sha256(b"argus-electrum-harness-funding-input").hexdigest() + ":0"


class StubWallet:
    """chan.sweep_address asserts self.lnworker.wallet.is_mine(addr)."""
    def is_mine(self, addr):
        return True


class StubChannelLNWorker:
    """What lnchannel/lnsweep read from chan.lnworker on the paths used here."""
    def __init__(self, config, preimages=None):
        self.config = config
        self.wallet = StubWallet()
        self._preimages = preimages or {}

    # used by lnsweep.create_sweeptxs_for_our_ctx (capture of Bob's HTLC-success txs)
    def get_payment_status(self, payment_hash):
        return PR_PAID if payment_hash in self._preimages else None

    def get_preimage(self, payment_hash):
        return self._preimages.get(payment_hash)


class StubNetwork:
    proxy = None   # sync_with_remote_watchtower: make_aiohttp_session(proxy=self.network.proxy)


class StubLNWallet:
    """The only attributes LNWallet.sync_with_remote_watchtower touches."""
    def __init__(self, config, channels, recorder):
        self.config = config
        self.logger = get_logger("harness.LNWallet")
        self.network = StubNetwork()
        self.channels = channels
        self._recorder = recorder

    async def sync_channel_with_watchtower(self, chan, watchtower):
        # the REAL function (unbound), `self` is not used by it
        await self._recorder.run_real_sync(self, chan, watchtower)


class WireRecorder:
    """Wraps the two coroutines JsonRPCClient.add_method() created, so every call
    Electrum makes is recorded (arguments and what Electrum's client returned)."""

    def __init__(self):
        self.calls = []
        self.sent = []            # add_sweep_tx calls made, in order ("reply": "<raised>" if it raised)
        self.tower_ctn = None
        self.errors = []          # 'Error: ...' strings returned by JsonRPCClient
        self.exception = None     # exception raised out of sync_channel_with_watchtower
        self.done = asyncio.Event()

    def instrument(self, watchtower):
        real_get_ctn = watchtower.get_ctn
        real_add = watchtower.add_sweep_tx

        async def get_ctn(*args):
            t0 = time.monotonic()
            call = {"method": "get_ctn", "params": list(args), "result": "<raised>"}
            self.calls.append(call)
            self.tower_ctn = "<raised>"
            r = await real_get_ctn(*args)       # an exception propagates to Electrum unchanged
            call["result"] = r
            call["ms"] = round(1000 * (time.monotonic() - t0), 2)
            if isinstance(r, str) and r.startswith("Error"):
                self.errors.append({"method": "get_ctn", "reply": r})
            self.tower_ctn = r
            return r

        async def add_sweep_tx(*args):
            t0 = time.monotonic()
            outpoint, ctn, prevout, raw_tx = args
            call = {"method": "add_sweep_tx", "params": [outpoint, ctn, prevout, f"<{len(raw_tx)//2} bytes>"],
                    "result": "<raised>"}
            self.calls.append(call)
            sent = {"ctn": ctn, "prevout": prevout, "raw_tx": raw_tx, "reply": "<raised>"}
            self.sent.append(sent)
            r = await real_add(*args)           # an exception propagates to Electrum unchanged
            call["result"] = sent["reply"] = r
            call["ms"] = round(1000 * (time.monotonic() - t0), 2)
            if isinstance(r, str) and r.startswith("Error"):
                self.errors.append({"method": "add_sweep_tx", "ctn": ctn, "prevout": prevout, "reply": r})
            return r

        watchtower.get_ctn = get_ctn
        watchtower.add_sweep_tx = add_sweep_tx

    async def run_real_sync(self, lnwallet_self, chan, watchtower):
        self.instrument(watchtower)
        try:
            await lnworker.LNWallet.sync_channel_with_watchtower(lnwallet_self, chan, watchtower)
        except BaseException as e:
            self.exception = e
            self.exception_tb = traceback.format_exc()
            raise           # let Electrum's own handling (except / @ignore_exceptions) see it
        finally:
            self.done.set()


# --------------------------------------------------------------------------- scenario

def build_scenario(funding_txid, funding_index, funding_sat, cltv_base, extra_cycles, config):
    alice, bob = ec.create_test_channels(funding_txid=funding_txid, funding_index=funding_index,
                                         funding_sat=funding_sat)
    preimages = {}
    bob_states = {}   # Bob's ctn -> captured signed txs

    def snapshot(chan):
        if chan is not bob:
            return
        ctn = bob.get_latest_ctn(LOCAL)
        ctx = bob.force_close_tx()            # Bob's commitment, signed by both
        assert extract_ctn_from_tx_and_chan(ctx, bob) == ctn
        bob.lnworker = StubChannelLNWorker(config, preimages)
        try:
            infos = lnsweep.create_sweeptxs_for_our_ctx(chan=bob, ctx=ctx, sweep_address=bob._fallback_sweep_address)
        finally:
            bob.lnworker = None
        htlc_txs = []
        for prevout, info in (infos or {}).items():
            if info.name != 'first-stage-htlc':
                continue
            tx = info.gen_tx()
            assert tx.is_complete()
            htlc_txs.append({
                "kind": "htlc-timeout" if tx.locktime else "htlc-success",
                "spends": prevout,
                "txid": tx.txid(),
                "locktime": tx.locktime,
                "raw_tx": tx.serialize(),
            })
        htlcs = [{"direction_in_bob_ctx": "offered" if d == SENT else "received",
                  "amount_msat": h.amount_msat, "cltv_expiry": h.cltv_expiry,
                  "payment_hash": h.payment_hash.hex()}
                 for d, h in bob.hm.get_htlcs_in_latest_ctx(LOCAL)]
        bob_states[ctn] = {"ctn": ctn, "txid": ctx.txid(), "raw_tx": ctx.serialize(),
                           "htlcs": htlcs, "htlc_txs": sorted(htlc_txs, key=lambda x: x["spends"])}

    snapshot(bob)   # ctn 0 (opened by create_test_channels)

    def htlc(tag, amount_sat, cltv):
        p = ec.preimage(tag)
        h = hashlib.sha256(p).digest()
        preimages[h] = p
        return {'payment_hash': h, 'amount_msat': amount_sat * 1000, 'cltv_expiry': cltv, 'timestamp': 0}, p

    def alice_pays(tag, amount_sat, cltv):
        d, p = htlc(tag, amount_sat, cltv)
        a = alice.add_htlc(d).htlc_id
        b = bob.receive_htlc(d).htlc_id
        ec.force_state_transition(alice, bob, snapshot)
        return (a, b, p)

    def bob_pays(tag, amount_sat, cltv):
        d, p = htlc(tag, amount_sat, cltv)
        b = bob.add_htlc(d).htlc_id
        a = alice.receive_htlc(d).htlc_id
        ec.force_state_transition(bob, alice, snapshot)
        return (a, b, p)

    def bob_settles(h):      # HTLC Alice -> Bob
        a, b, p = h
        bob.settle_htlc(p, b)
        alice.receive_htlc_settle(p, a)
        ec.force_state_transition(bob, alice, snapshot)

    def alice_settles(h):    # HTLC Bob -> Alice
        a, b, p = h
        alice.settle_htlc(p, a)
        bob.receive_htlc_settle(p, b)
        ec.force_state_transition(alice, bob, snapshot)

    # SCENARIO. Bob ctn after each step and the HTLCs in his commitment:
    a1 = alice_pays("a1", 1_000_000, cltv_base)          # ctn1: A1 (received by Bob)
    b1 = bob_pays("b1", 500_000, cltv_base + 10)          # ctn2: A1, B1 (offered by Bob)
    bob_settles(a1)                                       # ctn3: B1
    alice_settles(b1)                                     # ctn4: -
    a2 = alice_pays("a2", 300_000, cltv_base + 20)        # ctn5: A2
    bob_settles(a2)                                       # ctn6: - (current, unrevoked)
    for i in range(extra_cycles):                         # +2 ctns per cycle, directions alternate
        if i % 2 == 0:
            bob_settles(alice_pays(f"x{i}", 100_000 + i, cltv_base + 30 + i))
        else:
            alice_settles(bob_pays(f"x{i}", 100_000 + i, cltv_base + 30 + i))

    assert alice.get_oldest_unrevoked_ctn(REMOTE) == bob.get_oldest_unrevoked_ctn(LOCAL)
    return alice, bob, bob_states, preimages


# --------------------------------------------------------------------------- sync

async def do_sync(url, alice, config, mode, recorder):
    if mode == "direct":
        # The body of LNWallet.sync_with_remote_watchtower's try-block, verbatim,
        # for one channel, without the loop's leading `await asyncio.sleep(5)`.
        async with util.make_aiohttp_session(proxy=None) as session:
            watchtower = util.JsonRPCClient(session, url)
            watchtower.add_method('get_ctn')
            watchtower.add_method('add_sweep_tx')
            await recorder.run_real_sync(None, alice, watchtower)
        return
    # mode == "loop": the real sync_with_remote_watchtower coroutine
    stub = StubLNWallet(config, {alice.channel_id: alice}, recorder)
    task = asyncio.ensure_future(lnworker.LNWallet.sync_with_remote_watchtower(stub))
    done_wait = asyncio.ensure_future(recorder.done.wait())
    await asyncio.wait([task, done_wait], timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if not recorder.done.is_set():
        task.cancel()
        raise RuntimeError("Electrum's sync_with_remote_watchtower did not reach sync_channel_with_watchtower "
                           "within 60 s (URL rejected? see its log warning)")
    await asyncio.sleep(0)           # let the loop finish its pass
    loop_alive = not task.done()     # False: the loop died (exception swallowed by @ignore_exceptions)
    recorder.loop_alive_after_pass = loop_alive
    task.cancel()
    done_wait.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass


def classify(sweep_tx, ctx_txid, htlc_tx_by_txid):
    txid = sweep_tx.inputs()[0].prevout.txid.hex()
    if txid == ctx_txid:
        return "to_local"
    if txid in htlc_tx_by_txid:
        return "htlc_second_stage(" + htlc_tx_by_txid[txid]["kind"] + ")"
    return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="http://user:pass@127.0.0.1:PORT (Electrum's watchtower_url)")
    ap.add_argument("--out", help="JSON output file")
    ap.add_argument("--mode", choices=["loop", "direct"], default="loop")
    ap.add_argument("--funding-sat", type=int, default=DEFAULT_FUNDING_SAT)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--funding-prevout", default=DEFAULT_FUNDING_PREVOUT,
                   help="TXID:N spent (unsigned) by the synthetic funding tx (default: a fixed fake outpoint)")
    g.add_argument("--funding-outpoint",
                   help="TXID:N of an EXISTING output paying --funding-sat to the funding address "
                        "(see --print-funding-address); no funding tx is synthesised")
    ap.add_argument("--cltv-base", type=int, default=150,
                    help="cltv_expiry of the first HTLC (the others +10, +20, ...); HTLC-timeout locktimes")
    ap.add_argument("--extra-cycles", type=int, default=0,
                    help="add N more (add HTLC, settle) cycles = 2N more revoked ctns (load generation)")
    ap.add_argument("--print-funding-address", action="store_true",
                    help="print the channel's funding address and redeem script, then exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="Electrum debug logs on stderr")
    args = ap.parse_args()

    script, funding_address = ec.funding_redeem_script_and_address()
    if args.print_funding_address:
        print(json.dumps({"funding_address": funding_address, "funding_redeem_script": script,
                          "funding_sat": args.funding_sat}))
        return 0
    if not args.url or not args.out:
        ap.error("--url and --out are required")

    tmp = tempfile.mkdtemp(prefix="argus-electrum-client-")
    atexit.register(shutil.rmtree, tmp, True)  # Electrum's regtest directory, gone at exit
    config = SimpleConfig({'regtest': True, 'electrum_path': tmp, 'watchtower_url': args.url,
                           'verbosity': '*' if args.verbose else ''})
    if args.verbose:
        from electrum.logging import configure_logging
        configure_logging(config)

    if args.funding_outpoint:
        funding_txid, funding_index = args.funding_outpoint.split(":")
        funding_index = int(funding_index)
        funding = {"synthetic": False, "txid": funding_txid, "raw_tx": None,
                   "note": "existing outpoint given by --funding-outpoint; must pay funding_sat to funding_address"}
    else:
        ftx = ec.make_funding_tx(args.funding_prevout, args.funding_sat)
        funding_txid, funding_index = ftx.txid(), 0
        funding = {"synthetic": True, "txid": funding_txid, "raw_tx": ftx.serialize(),
                   "input_prevout": args.funding_prevout, "input_signed": False,
                   "note": "synthesised: output 0 is the 2-of-2 P2WSH funding output; its single input "
                           "spends input_prevout and carries NO signature (valid only on a chain that does "
                           "not check that one input's script)"}

    t0 = time.monotonic()
    alice, bob, bob_states, preimages = build_scenario(funding_txid, funding_index, args.funding_sat,
                                                       args.cltv_base, args.extra_cycles, config)
    alice.lnworker = StubChannelLNWorker(config)
    outpoint = alice.funding_outpoint.to_str()
    assert alice.get_funding_address() == funding_address
    current_ctn = alice.get_oldest_unrevoked_ctn(REMOTE)
    revoked = list(range(0, current_ctn))
    t_build = time.monotonic() - t0

    # What Electrum would send for every revoked ctn (deterministic: RFC6979 signatures),
    # computed with the same Electrum function sync_channel_with_watchtower uses.
    expected = {}
    for ctn in revoked:
        ctx_txid = bob_states[ctn]["txid"]
        assert alice.get_commitment(REMOTE, ctn=ctn).txid() == ctx_txid
        by_txid = {h["txid"]: h for h in bob_states[ctn]["htlc_txs"]}
        lst = []
        for tx in alice.create_sweeptxs(ctn):
            lst.append({"ctn": ctn, "prevout": tx.inputs()[0].prevout.to_str(), "raw_tx": tx.serialize(),
                        "txid": tx.txid(), "kind": classify(tx, ctx_txid, by_txid)})
        expected[ctn] = lst

    parsed = urllib.parse.urlparse(args.url)
    recorder = WireRecorder()
    recorder.loop_alive_after_pass = None
    t1 = time.monotonic()
    fatal = None
    try:
        asyncio.run(do_sync(args.url, alice, config, args.mode, recorder))
    except Exception as e:
        fatal = f"{type(e).__name__}: {e}"
    t_sync = time.monotonic() - t1

    sent_by_ctn = {str(c): [] for c in revoked}
    for s in recorder.sent:
        exp = {e["prevout"]: e for e in expected.get(s["ctn"], [])}
        s["kind"] = exp[s["prevout"]]["kind"] if s["prevout"] in exp else "unexpected"
        s["matches_create_sweeptxs"] = s["prevout"] in exp and exp[s["prevout"]]["raw_tx"] == s["raw_tx"]
        sent_by_ctn.setdefault(str(s["ctn"]), []).append(s)

    add_calls = [c for c in recorder.calls if c["method"] == "add_sweep_tx" and "ms" in c]
    add_ms = sum(c["ms"] for c in add_calls)
    out = {
        "electrum_version": electrum.version.ELECTRUM_VERSION,
        "network": "regtest",
        "mode": args.mode,
        "url_host": f"{parsed.hostname}:{parsed.port}", "url_user": parsed.username,
        "funding_outpoint": outpoint,
        "funding_address": funding_address,
        "funding_redeem_script": script,
        "funding_sat": args.funding_sat,
        "funding_tx": funding,
        "tower_get_ctn_reply": recorder.tower_ctn,
        "oldest_unrevoked_remote_ctn": current_ctn,
        "revoked_ctns": revoked,
        "ctns_sent": sorted({s["ctn"] for s in recorder.sent}),
        "num_sweeps_sent": len(recorder.sent),   # add_sweep_tx calls made
        "num_sweeps_acked": sum(1 for s in recorder.sent if s["reply"] is None),   # answered result null
        "sweeps_sent": recorder.sent,
        "sweeps_sent_by_ctn": sent_by_ctn,
        "sweeps_by_revoked_ctn": {str(k): v for k, v in expected.items()},
        "revoked_commitments": {str(c): bob_states[c] for c in revoked},
        "current_commitment": bob_states[current_ctn],
        "preimages": {h.hex(): p.hex() for h, p in preimages.items()},
        "rpc_calls": recorder.calls,
        "errors": recorder.errors,
        "sync_exception": (f"{type(recorder.exception).__name__}: {recorder.exception}"
                           if recorder.exception else None),
        "electrum_loop_alive_after_pass": recorder.loop_alive_after_pass,
        "timing_s": {"build_channels": round(t_build, 3), "sync": round(t_sync, 3),
                     # time spent awaiting add_sweep_tx replies only (excludes Electrum's sweep signing)
                     "add_sweep_tx_wire_total": round(add_ms / 1000, 3),
                     "add_sweep_tx_per_s": round(len(add_calls) / (add_ms / 1000), 1) if add_ms else None},
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)

    problems = []
    if recorder.exception:
        e = recorder.exception
        if isinstance(e, aiohttp.ClientConnectorError):
            hint = (" (Electrum's loop catches this one, logs 'could not contact remote watchtower' "
                    "and retries 5 s later)")
        else:
            hint = (" (in Electrum's real sync_with_remote_watchtower loop this ends the loop, swallowed by "
                    "@ignore_exceptions: no more syncs until the wallet restarts)")
        if isinstance(e, TypeError) and isinstance(recorder.tower_ctn, str):
            hint = (f" (get_ctn returned {recorder.tower_ctn!r}: JsonRPCClient turns an error reply or a non-200 "
                    f"status into such a string and `range(watchtower_ctn + 1, current_ctn)` raises)" + hint)
        problems.append(f"Electrum's sync_channel_with_watchtower raised {type(e).__name__}: {e}{hint}")
    elif fatal:
        problems.append(f"harness/sync failed: {fatal}")
    for err in recorder.errors:
        problems.append(f"tower answered {err['method']} with an error: {err['reply']!r}"
                        + (" (Electrum ignores this and moves on: that sweep is silently lost)"
                           if err['method'] == 'add_sweep_tx' else ""))
    if not recorder.exception and not fatal:
        for s in recorder.sent:
            if not s["matches_create_sweeptxs"]:
                problems.append(f"sent sweep ctn={s['ctn']} prevout={s['prevout']} differs from create_sweeptxs")
    def span(lst):
        if not lst:
            return "none"
        return (f"{lst[0]}..{lst[-1]}" if lst == list(range(lst[0], lst[-1] + 1)) else str(lst))
    summary = (f"get_ctn -> {recorder.tower_ctn!r}; {len(recorder.sent)} add_sweep_tx for ctns "
               f"{span(out['ctns_sent'])} (revoked: {span(revoked)}); build {t_build:.2f}s sync {t_sync:.2f}s; "
               f"wrote {args.out}")
    if problems:
        for p in problems:
            print("ERROR:", p, file=sys.stderr)
        print("FAILED:", summary, file=sys.stderr)
        return 1
    print("OK:", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
