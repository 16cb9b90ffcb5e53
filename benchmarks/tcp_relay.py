"""The baseline: a plain asyncio TCP byte relay, nothing decoded.

python -m benchmarks.tcp_relay LISTEN_PORT TARGET_PORT
"""

from __future__ import annotations

import asyncio
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(256 * 1024):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(listen: int, target: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=1024)
    print("ready", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:  # the same event loop the gateway runs on, for a fair baseline
        import uvloop

        uvloop.run(main(int(sys.argv[1]), int(sys.argv[2])))
    except ImportError:
        asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
