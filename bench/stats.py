"""Small statistics helpers."""


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarize(latencies_s: list[float], seconds: float) -> dict:
    return {
        "ops": len(latencies_s),
        "per_second": round(len(latencies_s) / seconds, 1),
        "p50_ms": round(percentile(latencies_s, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies_s, 99) * 1000, 2),
    }
