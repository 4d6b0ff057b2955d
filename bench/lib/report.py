#!/usr/bin/env python3
"""Turns the benchmark's raw numbers into Markdown: medians over the rounds, and the ratio of
each target to nginx and to distribution (the same transport: a -tls target is compared with
nginx-tls and distribution-tls; proxy-only workloads with distribution-proxy).

usage: report.py FACTS RAW TARGET...   (RAW: round, target, metric, value; tab-separated)
"""
import statistics
import sys
from collections import defaultdict

# metric, title, unit, better ("higher", "lower" or "" when neither), proxy-only
METRICS = [
    ("w1_c1_mibs", "W1 hot blob GET, 1 connection: throughput", "MiB/s", "higher", False),
    ("w1_c8_mibs", "W1 hot blob GET, 8 connections: throughput", "MiB/s", "higher", False),
    ("w1_c1_cpu_ms_gib", "W1 server CPU per GiB sent, 1 connection", "ms/GiB", "lower", False),
    ("w1_c8_cpu_ms_gib", "W1 server CPU per GiB sent, 8 connections", "ms/GiB", "lower", False),
    ("w2_tag_rps", "W2 manifest by tag, 64 connections: requests", "req/s", "higher", False),
    ("w2_tag_p50_ms", "W2 manifest by tag: p50 latency", "ms", "lower", False),
    ("w2_tag_p99_ms", "W2 manifest by tag: p99 latency", "ms", "lower", False),
    ("w2_tag_cpu_us", "W2 manifest by tag: server CPU per request", "µs", "lower", False),
    ("w2_digest_rps", "W2 manifest by digest, 64 connections: requests", "req/s", "higher", False),
    ("w2_digest_p50_ms", "W2 manifest by digest: p50 latency", "ms", "lower", False),
    ("w2_digest_p99_ms", "W2 manifest by digest: p99 latency", "ms", "lower", False),
    ("w2_digest_cpu_us", "W2 manifest by digest: server CPU per request", "µs", "lower", False),
    ("w3_upstream_gets", "W3 16 clients, one uncached blob: upstream GETs of it", "GETs", "lower", True),
    ("w3_upstream_mib", "W3 16 clients, one uncached blob: bytes the upstream sent", "MiB", "lower", True),
    ("w3_wall_s", "W3 16 clients, one uncached blob: wall time until all have it", "s", "lower", True),
    ("w3_vs_one_cold", "W3 wall time / one cold fetch (W5 cold total)", "×", "lower", True),
    ("w3_clients_ok", "W3 clients that got the whole blob (of 16)", "", "", True),
    ("w3_hot_wall_s", "W3 reference: 16 clients, the hot blob from the server's own store: wall time", "s", "lower",
     False),
    ("w3_vs_nginx16", "W3 wall time / nginx handing the same 16 copies from its files (W3 reference)", "×", "lower",
     True),
    ("w4_peak_rss_mib", "W4 peak RSS (VmHWM) after all workloads so far", "MiB", "lower", False),
    ("w4_big_before_mib", "W4 big: peak RSS before the {big} blob (W4 of this round)", "MiB", "lower", False),
    ("w4_big_peak_rss_mib", "W4 big: peak RSS after one {big} blob pushed (proxies: pulled through) and served",
     "MiB", "lower", False),
    ("w4_big_vs_before", "W4 big: peak after the {big} blob / before it, bench blob {blob} (flat: 1.00)", "×",
     "lower", False),
    ("w5_hot_first_ttfb_ms", "W5 time to first byte, hot blob (new connection), after keep-alive load only",
     "ms", "lower", False),
    ("w5_hot_ttfb_ms", "W5 time to first byte, hot blob (new connection), after {w5_connections} new connections",
     "ms", "lower", False),
    ("w5_cold_ttfb_ms", "W5 time to first byte, cold blob through the proxy (median of {cold_samples})", "ms",
     "lower", True),
    ("w5_cold_upstream_ttfb_ms", "W5 the upstream's own time to first byte, a fresh blob each (median)", "ms",
     "lower", True),
    ("w5_cold_added_ms", "W5 cold: the proxy's TTFB minus the upstream's, pair by pair (median)", "ms", "lower",
     True),
    ("w5_cold_added_from_request_ms", "W5 cold: the same, each timed from its request (connect and TLS handshake left out)",
     "ms", "lower", True),
    ("w5_cold_total_s", "W5 one cold fetch through the proxy, whole blob", "s", "lower", True),
    ("w6_mibs", "W6 blob GET, 8 connections, with the idle connections held: throughput", "MiB/s", "higher", False),
    ("w6_idle_answered", "W6 idle keep-alive connections opened and answered", "", "", False),
    ("w6_idle_open", "W6 idle connections still open after the W1 run", "", "", False),
    ("w6_sample_ok_pct", "W6 sampled idle connections answering a new request", "%", "", False),
    ("startup_s", "Start-up to the first served request, {startup_blobs} blobs stored (median of 3 starts)",
     "s", "lower", False),
    ("startup_first_s", "Start-up to the first served request, first start after the {startup_blobs} blobs "
     "were written", "s", "lower", False),
    ("startup_rss_mib", "Start-up: peak RSS at the first served request", "MiB", "lower", False),
]
ERROR_METRICS = ("w1_c1_errors", "w1_c8_errors", "w2_tag_errors", "w2_digest_errors", "w6_errors")


def load(raw):
    values = defaultdict(lambda: defaultdict(dict))  # metric -> target -> round -> value
    for line in open(raw):
        rnd, target, metric, value = line.rstrip("\n").split("\t")
        values[metric][target][rnd] = float(value)
    # derived: W3 wall time relative to one cold fetch of the same size in the same round
    for target, rounds in values.get("w3_wall_s", {}).items():
        for rnd, wall in rounds.items():
            cold = values["w5_cold_total_s"].get(target, {}).get(rnd)
            if cold:
                values["w3_vs_one_cold"][target][rnd] = wall / cold
            floor = values["w3_hot_wall_s"].get("nginx-tls" if target.endswith("-tls") else "nginx", {}).get(rnd)
            if floor:
                values["w3_vs_nginx16"][target][rnd] = wall / floor
    # derived: a target's peak after the big blob over its peak before it, in the same round
    for target, rounds in values.get("w4_big_peak_rss_mib", {}).items():
        for rnd, big in rounds.items():
            before = values["w4_big_before_mib"].get(target, {}).get(rnd)
            if before:
                values["w4_big_vs_before"][target][rnd] = big / before
    return values


def fmt(v):
    if v is None:
        return "—"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def reference(target, base, proxy_only):
    tls = "-tls" if target.endswith("-tls") else ""
    if base == "nginx":
        return None if proxy_only else "nginx" + tls
    return ("distribution-proxy" if proxy_only else "distribution") + tls


def ratio(values, metric, target, ref):
    if ref is None:
        return "—"
    mine, theirs = median(values, metric, target), median(values, metric, ref)
    if mine is None or not theirs:
        return "—"
    r = mine / theirs
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.2g}×"  # 0.0044×, not 0.00×


def median(values, metric, target):
    rounds = values.get(metric, {}).get(target)
    return statistics.median(rounds.values()) if rounds else None


def main():
    facts_file, raw, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
    facts = dict(line.rstrip("\n").split("=", 1) for line in open(facts_file) if "=" in line)
    values = load(raw)
    names = {"blob": facts.get("blob", "?"), "big": facts.get("big", "?"),
             "cold_samples": facts.get("w5_cold_samples", "?"),
             "w5_connections": f"{int(facts['w5_connections']):,}".replace(",", " ") if "w5_connections" in facts else "?",
             "startup_blobs": f"{int(facts['startup_blobs']):,}".replace(",", " ") if "startup_blobs" in facts else "?"}
    metrics = [(m, title.format(**names), unit, better, proxy) for m, title, unit, better, proxy in METRICS]
    out = []
    out.append(f"# ocimirror benchmark, {facts.get('date', '?')} on {facts.get('host', '?')}")
    out.append("")
    out.append("Produced by `bench/run.sh`: servers pinned to CPU 0, load generators and the upstream "
               "registry to CPU 1, all on 127.0.0.1. Medians over the rounds; × nginx and "
               "× distribution are this target's median over theirs with the same transport "
               "(proxy-only workloads compare with distribution-proxy).")
    if facts.get("note"):
        out.append("")
        out.append(f"**Note:** {facts['note']}")
    out.append("")
    out.append("| fact | value |")
    out.append("|---|---|")
    for key in ("nproc", "cpu", "memory", "kernel", "java", "jvm_flags", "ocimirror", "nginx", "distribution",
                "wrk", "curl", "openssl", "rounds", "duration", "w2_warmup", "blob", "big", "idle_conns", "startup_blobs", "load_before", "load_after"):
        if key in facts:
            out.append(f"| {key} | {facts[key]} |")
    for key in sorted(k for k in facts if k.startswith("tls ")):
        out.append(f"| {key} | {facts[key]} |")
    out.append("")

    # Overview: medians only, metrics down, targets across.
    out.append("## Medians")
    out.append("")
    out.append("| metric | unit | " + " | ".join(targets) + " |")
    out.append("|---|---|" + "---|" * len(targets))
    for metric, title, unit, _, _ in metrics:
        if metric in values:
            cells = [fmt(median(values, metric, t)) for t in targets]
            out.append(f"| {title} | {unit} | " + " | ".join(cells) + " |")
    out.append("")

    # Detail: one table per metric with the ratios and every round's value.
    out.append("## Ratios")
    for metric, title, unit, better, proxy_only in metrics:
        if metric not in values:
            continue
        hint = f", {better} is better" if better else ""
        out.append("")
        out.append(f"### {title} ({unit or 'count'}{hint})")
        out.append("")
        out.append("| target | median | × nginx | × distribution | rounds |")
        out.append("|---|---|---|---|---|")
        for t in targets:
            rounds = values[metric].get(t)
            if not rounds:
                continue
            each = ", ".join(fmt(rounds[r]) for r in sorted(rounds, key=int))
            out.append(f"| {t} | {fmt(median(values, metric, t))} | "
                       f"{ratio(values, metric, t, reference(t, 'nginx', proxy_only))} | "
                       f"{ratio(values, metric, t, reference(t, 'distribution', proxy_only))} | {each} |")

    errors = [(m, t, r, v) for m in ERROR_METRICS for t, rs in values.get(m, {}).items()
              for r, v in rs.items() if v > 0]
    out.append("")
    out.append("## Errors")
    out.append("")
    if errors:
        out.append("wrk counted socket errors or error statuses in these runs (their numbers are suspect):")
        out.append("")
        for m, t, r, v in errors:
            out.append(f"- round {r}, {t}, {m}: {v:.0f}")
    else:
        out.append("None: every wrk run finished without socket errors or error statuses.")
    print("\n".join(out))


if __name__ == "__main__":
    main()
