"""The SMSC simulator without its per-message printing (`parley smsc` echoes every submit_sm).

python -m bench.smsc_quiet --port 2775 --delay 0.02
"""

from __future__ import annotations

import argparse
import asyncio

from parley.testing.smsc import SmscSimulator


async def serve(port: int, delay: float) -> None:
    async with SmscSimulator("127.0.0.1", port, delay=delay, echo=False) as smsc:
        print(f"listening on {smsc.port}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="A quiet SMSC simulator for `python -m bench`.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each submit_sm_resp")
    args = parser.parse_args()
    try:  # the sink should cost as little CPU as it can: the machine is shared with what it measures
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port, args.delay))
    else:
        uvloop.run(serve(args.port, args.delay))


if __name__ == "__main__":
    main()
