"""Permission checks: how long a decision takes, and how long a big policy takes to load.

    python -m benchmarks.authz

Targets (issue 4): p99 <= 2 ms for a typical 1 KB query, <= 20 ms for a 10 KB generated one;
a policy with 1,000 rules loads in <= 1 s. Analysis results are cached per statement text, so
the figures below are for first sightings (cache cleared each time) and for repeats.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from pathlib import Path

from adhoc.auth import Principal
from adhoc.authz import SessionState
from adhoc.authz.authorizer import PolicyAuthorizer, _analyze_cached
from adhoc.authz.policy import load_policy

TYPICAL = """
WITH recent_orders AS (
    SELECT o.order_id, o.customer_id, o.amount, o.created_at, o.region
    FROM sales.orders o
    WHERE o.created_at >= date_sub(current_date(), 30) AND o.status IN ('paid', 'shipped')
), customer_totals AS (
    SELECT customer_id, region, sum(amount) AS total, count(*) AS orders,
           row_number() OVER (PARTITION BY region ORDER BY sum(amount) DESC) AS rank_in_region
    FROM recent_orders
    GROUP BY customer_id, region
)
SELECT c.customer_id, c.name, c.segment, t.region, t.total, t.orders, t.rank_in_region,
       CASE WHEN t.total > 10000 THEN 'gold' WHEN t.total > 1000 THEN 'silver' ELSE 'bronze' END AS tier
FROM customer_totals t
JOIN sales.customers c ON c.customer_id = t.customer_id
LEFT JOIN sales.refunds r ON r.customer_id = t.customer_id AND r.created_at >= date_sub(current_date(), 30)
WHERE t.rank_in_region <= 100 AND r.customer_id IS NULL
ORDER BY t.region, t.rank_in_region
LIMIT 1000
""".strip()


def generated(target_bytes: int) -> str:
    parts, i = [], 0
    while sum(map(len, parts)) < target_bytes:
        parts.append(f"SELECT customer_id, sum(amount) AS s{i} FROM sales.orders_{i % 40} "
                     f"WHERE region = 'r{i}' AND amount > {i} GROUP BY customer_id")  # fmt: skip
        i += 1
    return " UNION ALL ".join(parts)


def percentiles(fn, n: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    rules = ["[groups]", 'analysts = ["alice"]']
    for i in range(1000):
        rules += ["[[rules]]", f'principals = ["group:team{i}", "user:u{i}"]', f'read = ["db{i}.*", "shared.t{i}"]',
                  f'write = ["scratch_{{user}}.*", "team{i}.*"]']  # fmt: skip
    rules += ["[[rules]]", 'principals = ["group:analysts"]', 'read = ["sales.*"]']
    (tmp / "big.toml").write_text("\n".join(rules))
    started = time.perf_counter()
    policy = load_policy(str(tmp / "big.toml"))
    load_s = time.perf_counter() - started
    authz = PolicyAuthorizer(policy)
    alice = Principal("alice")
    gc.freeze()  # as `adhoc serve` does once it has started
    ten_kb = generated(10_000)
    rows = [("policy with 1,000 rules: load", f"{load_s * 1000:.0f} ms", "<= 1000 ms")]
    for label, sql, n, target in (
        ("typical 1 KB query", TYPICAL, 300, 2.0),
        ("generated 10 KB query", ten_kb, 200, 20.0),
    ):
        assert authz.check_statement(alice, sql, SessionState()).allowed

        def first_sight(sql: str = sql) -> None:
            _analyze_cached.cache_clear()
            authz.check_statement(alice, sql, SessionState())

        p50, p99 = percentiles(first_sight, n)
        rows.append(
            (f"{label} ({len(sql)} B), first sight", f"p50 {p50:.2f} ms  p99 {p99:.2f} ms", f"p99 <= {target} ms")
        )
        p50, p99 = percentiles(lambda sql=sql: authz.check_statement(alice, sql, SessionState()), n)
        rows.append((f"{label}, repeated (cached)", f"p50 {p50:.3f} ms  p99 {p99:.3f} ms", ""))
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<28}  {target}")


if __name__ == "__main__":
    main()
