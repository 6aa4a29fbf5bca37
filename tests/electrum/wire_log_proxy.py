#!/usr/bin/python3
"""Tiny logging TCP proxy: listen on --listen PORT, forward to --target HOST:PORT,
append every chunk (both directions, raw bytes) to --log FILE.

Used once to capture what Electrum's JsonRPCClient really puts on the wire
(README.md "Wire format").  Prints "READY <port>".  Plain stdlib, any python3.
"""
import argparse
import asyncio
import itertools
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, default=0)
    ap.add_argument("--target", required=True, help="host:port")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    th, tp = args.target.rsplit(":", 1)
    log = open(args.log, "ab", buffering=0)
    conn_ids = itertools.count(1)

    async def pipe(reader, writer, tag):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                log.write(b"\n=== %s %.6f %d bytes ===\n" % (tag.encode(), time.time(), len(data)) + data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def handle(cr, cw):
        cid = next(conn_ids)
        sr, sw = await asyncio.open_connection(th, int(tp))
        await asyncio.gather(pipe(cr, sw, f"conn{cid} client->server"),
                             pipe(sr, cw, f"conn{cid} server->client"))

    async def run():
        srv = await asyncio.start_server(handle, "127.0.0.1", args.listen)
        print("READY", srv.sockets[0].getsockname()[1], flush=True)
        async with srv:
            await srv.serve_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
