#!/usr/bin/python3
"""Electrum 4.3.4's OWN watchtower server, offline, regtest, in a temp dir.

    /usr/bin/python3 electrum_reference_tower.py --port 0 --user u --password p [--datadir DIR]

Prints "READY <port>" on stdout once the HTTP port accepts connections, then
serves until SIGTERM/SIGINT (clean shutdown: Electrum's Daemon.stop()).

This is not a re-implementation: it starts electrum.daemon.Daemon exactly as
`electrum --regtest daemon` would with the config keys
    run_watchtower=True, watchtower_address=127.0.0.1:PORT,
    watchtower_user / watchtower_password
so Network.__init__ creates lnwatcher.WatchTower (with its SweepStore sqlite
at <datadir>/regtest/watchtower_db) and Daemon creates daemon.WatchTowerServer
(AuthenticatedServer + aiohttp) on that address.  Nothing of Electrum is stubbed.

Chain watching: WatchTower's AddressSynchronizer needs an Electrum *server*
(ElectrumX/electrs) to learn about the chain.  None exists here, so the config
points Network at --electrum-server (default 127.0.0.1:1:t, nothing listens)
with oneserver=True: Network keeps retrying the connection in the background,
the tower never sees a block or a breach, and nothing crashes.  get_ctn and
add_sweep_tx do not depend on the chain, so storage behaviour (and its speed)
is Electrum's real one.  Point --electrum-server at a real regtest Electrum
server to get real breach response.

--port 0 picks a free port (it is bound once to find one, then released and
given to Electrum; a tiny race, fine for tests).
"""

import argparse
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

from electrum import constants
constants.set_regtest()

from electrum import daemon, util
from electrum.logging import configure_logging
from electrum.simple_config import SimpleConfig


def free_port(host):
    s = socket.socket()
    s.bind((host, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_listening(host, port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def main():
    ap = argparse.ArgumentParser(description="Electrum 4.3.4 reference watchtower (WatchTowerServer)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--user", default="argus")
    ap.add_argument("--password", default="secret",
                    help="'' disables auth (Electrum's AuthenticatedServer rule)")
    ap.add_argument("--datadir", help="Electrum data dir (kept); default: a temp dir removed on exit")
    ap.add_argument("--electrum-server", default="127.0.0.1:1:t",
                    help="host:port:t|s of an Electrum server for chain watching (default: none)")
    ap.add_argument("-v", "--verbose", action="store_true", help="Electrum logs on stderr")
    args = ap.parse_args()

    port = args.port or free_port(args.host)
    tmp = None
    datadir = args.datadir
    if not datadir:
        datadir = tmp = tempfile.mkdtemp(prefix="electrum-ref-tower-")
    os.makedirs(datadir, exist_ok=True)

    config = SimpleConfig({
        'regtest': True,
        'electrum_path': datadir,
        'run_watchtower': True,
        'watchtower_address': f'{args.host}:{port}',
        'watchtower_user': args.user,
        'watchtower_password': args.password,
        'server': args.electrum_server,
        'oneserver': True,
        'auto_connect': False,
        'use_exchange_rate': False,
        'verbosity': '*' if args.verbose else '',
        'log_to_file': False,
    })
    configure_logging(config)

    loop, stop_loop, loop_thread = util.create_and_start_event_loop()
    d = daemon.Daemon(config, listen_jsonrpc=False)

    if not wait_listening(args.host, port, 15):
        print(f"ERROR: Electrum WatchTowerServer did not listen on {args.host}:{port}", file=sys.stderr, flush=True)
        os._exit(2)
    db = os.path.join(config.path, "watchtower_db")
    print(f"READY {port}", flush=True)
    print(f"sweepstore {db}", file=sys.stderr, flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    while not stop.wait(0.2):
        pass
    try:
        import asyncio
        asyncio.run_coroutine_threadsafe(d.stop(), loop).result(timeout=10)
        d.network.local_watchtower.sweepstore.stop()
        d.network.local_watchtower.sweepstore.sql_thread.join(timeout=5)
    except Exception as e:
        print(f"shutdown: {e!r}", file=sys.stderr)
    loop.call_soon_threadsafe(stop_loop.set_result, 1)
    loop_thread.join(timeout=5)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
