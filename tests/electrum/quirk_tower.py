#!/usr/bin/python3
"""A deliberately misbehaving fake watchtower, to observe how Electrum 4.3.4's
CLIENT reacts (record_quirks.py drives it).  Not a reference: replies copy the
shape of Electrum's AuthenticatedServer.handle() (web.json_response of
{"id", "jsonrpc": "2.0", "result"|"error": {"code": 1, "message"}}), except
where a quirk says otherwise.

    quirk_tower.py --port 0 --log calls.jsonl [--get-ctn REPLY] [--add REPLY] [--add-at K]

REPLY: an integer (get_ctn only) | ok | error | http500 | text (200, body ok,
Content-Type text/plain) | garbage (200, application/json, body not JSON).
--add-at K applies --add only to the K-th add_sweep_tx (1-based); others ok.
Prints "READY <port>".  Needs aiohttp (use /usr/bin/python3).
"""
import argparse
import asyncio
import json
import sys

from aiohttp import web


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", required=True)
    ap.add_argument("--get-ctn", default="0")
    ap.add_argument("--add", default="ok")
    ap.add_argument("--add-at", type=int, default=0)
    args = ap.parse_args()
    log = open(args.log, "a")
    n_add = 0

    def reply(kind, _id, result):
        if kind == "ok":
            return web.json_response({"id": _id, "jsonrpc": "2.0", "result": result})
        if kind == "error":
            return web.json_response({"id": _id, "jsonrpc": "2.0",
                                      "error": {"code": 1, "message": "quirk: refused"}})
        if kind == "http500":
            return web.Response(text="Internal Server Error (quirk)", status=500)
        if kind == "text":
            return web.Response(text=json.dumps({"id": _id, "jsonrpc": "2.0", "result": result}),
                                content_type="text/plain")
        if kind == "garbage":
            return web.Response(text="this is not json", content_type="application/json")
        raise ValueError(kind)

    async def handle(request):
        nonlocal n_add
        body = await request.text()
        req = json.loads(body)
        m, _id, params = req["method"], req["id"], req.get("params", [])
        log.write(json.dumps({"method": m, "id": _id, "params": [p if not (isinstance(p, str) and len(p) > 100)
                                                                  else f"<{len(p)//2} bytes>" for p in params],
                              "content_type": request.headers.get("Content-Type"),
                              "authorization": request.headers.get("Authorization")}) + "\n")
        log.flush()
        if m == "get_ctn":
            try:
                return reply("ok", _id, int(args.get_ctn))
            except ValueError:
                return reply(args.get_ctn, _id, 0)
        if m == "add_sweep_tx":
            n_add += 1
            kind = args.add if (args.add_at in (0, n_add)) else "ok"
            return reply(kind, _id, None)
        return web.Response(text="Invalid Request", status=500)

    async def run():
        app = web.Application()
        app.router.add_post("/", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port)
        await site.start()
        print("READY", site._server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
