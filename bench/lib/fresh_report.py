#!/usr/bin/env python3
"""W7 (bench/fresh.sh): medians per variant over the rounds, and first-vs-warm ratios."""
import statistics
import sys
from collections import defaultdict

raw, note = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
values = defaultdict(lambda: defaultdict(list))
for line in open(raw):
    _round, target, metric, value = line.rstrip("\n").split("\t")
    values[target][metric].append(float(value))


def med(target, metric):
    v = values[target].get(metric)
    return statistics.median(v) if v else float("nan")


print("# W7: a fresh replica against itself once warm\n")
if note:
    print(f"{note}\n")
print("Medians over the rounds (each round: a new process per variant; targets: first 10 s after")
print("/readyz turned 200 vs. after a warm-up; one cold blob each). Ratio columns: first / warm.\n")
print("| variant | ready s | first req/s | warm req/s | ratio | first p99 ms | warm p99 ms | ratio |"
      " first cold TTFB ms | first cold s | warm cold TTFB ms | warm cold s | ratio | RSS MiB | peak MiB |")
print("|---|" + "---:|" * 14)
for target in sorted(values):
    f_rps, w_rps = med(target, "first_rps"), med(target, "warm_rps")
    f_p99, w_p99 = med(target, "first_p99_ms"), med(target, "warm_p99_ms")
    f_cold, w_cold = med(target, "first_cold_total_s"), med(target, "warm_cold_total_s")
    print(f"| {target} | {med(target, 'ready_s'):.2f} | {f_rps:,.0f} | {w_rps:,.0f} | {f_rps / w_rps:.2f} |"
          f" {f_p99:.2f} | {w_p99:.2f} | {f_p99 / w_p99:.2f} |"
          f" {med(target, 'first_cold_ttfb_ms'):.1f} | {f_cold:.2f} | {med(target, 'warm_cold_ttfb_ms'):.1f} |"
          f" {w_cold:.2f} | {f_cold / w_cold:.2f} | {med(target, 'rss_mib'):.0f} | {med(target, 'peak_rss_mib'):.0f} |")
print("\nEvery value, round by round:\n")
for target in sorted(values):
    for metric in values[target]:
        print(f"- {target} {metric}: " + ", ".join(f"{v:g}" for v in values[target][metric]))
