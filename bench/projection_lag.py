"""How long a statement takes to show in the projections while statements keep arriving (target: < 1 s).

A writer submits single commitments at a steady rate (default 100/s, the demo's scale) while the projections'
poller runs as `lvyue serve` runs it; for each statement the time from its receipt to the projections' position
passing its index is recorded. Prints p50/p99/max lag beside the poller's interval.

    python bench/projection_lag.py [--rate 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.parties import register
from ledger.projections import Projections
from ledger.service import Ledger
from ledger.settings import Settings
from verifier.identity import make_credit_code


def main() -> None:
    """Run and print the lag figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lvyue-lag-") as tmp:
        ledger = Ledger.open(Settings(data_dir=Path(tmp), origin="bench.lvyue.example/log"))
        maker = register(ledger, make_credit_code("91120113MA0000001"), "enterprise", "天津滞后测试有限公司")
        authority = register(ledger, make_credit_code("11120113MB0000001"), "government", "北辰区滞后测试局")
        projections = Projections.open(ledger.settings, ledger=ledger)
        projections.run_once(ledger)
        poller = projections.start_polling(ledger, interval=args.interval)
        sent: dict[int, float] = {}
        seen: dict[int, float] = {}
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set() or len(seen) < len(sent):
                position = projections.position()
                now = time.perf_counter()
                for index in [i for i in sent if i < position and i not in seen]:
                    seen[index] = now
                time.sleep(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        body = {
            "kind": "voluntary_disclosure",
            "authority": authority.subject,
            "content": "主动公示服务承诺",
            "made_on": "2026-01-10",
            "deadline": "2026-12-31",
            "related": None,
        }
        end = time.perf_counter() + args.seconds
        gap = 1.0 / args.rate
        next_at = time.perf_counter()
        while time.perf_counter() < end:
            receipt = maker.submit("commitment.made", str(uuid.uuid4()), body)
            sent[receipt["index"]] = time.perf_counter()
            next_at += gap
            time.sleep(max(0.0, next_at - time.perf_counter()))
        stop.set()
        watcher.join(timeout=60)
        poller.stop()
        lags = sorted(seen[i] - sent[i] for i in sent if i in seen)
        ledger.close()
    pct = lambda p: lags[min(len(lags) - 1, int(len(lags) * p / 100))] * 1000  # noqa: E731
    print(f"statements {len(sent)} at {args.rate:.0f}/s for {args.seconds:.0f} s; poller interval {args.interval} s")
    worst = lags[-1] * 1000
    print(f"lag to projections: p50 {pct(50):.0f} ms, p99 {pct(99):.0f} ms, max {worst:.0f} ms (target < 1000 ms)")


if __name__ == "__main__":
    main()
