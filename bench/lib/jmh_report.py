#!/usr/bin/env python3
"""Renders the JMH microbenchmarks (DIR/jmh.json, JMH's own JSON) and the command-line hashing
reference (DIR/hashref.tsv: tool, version, MiB, seconds of each run) as a Markdown section.

usage: jmh_report.py DIR [--title]   (--title: a whole document, with DIR/facts as a table)
"""
import json
import os
import statistics
import sys

from report import fmt

# benchmark class -> heading, and what its rows measure
GROUPS = {
    "RouteBench": (
        "Request routing (once per request, on the event loop)",
        "`parseRequest` on `/v2/library/nginx/manifests/1.27.3-alpine` (manifest-tag), the same by "
        "digest, a blob by digest, the tag with containerd's `?ns=docker.io` (manifest-ns), and a blob "
        "of `registry.k8s.io/sig-storage/csi-node-driver-registrar/amd64` (deep-blob); `resolve` under "
        "the embedded configuration for `library/nginx?ns=docker.io`, `gcr.io/distroless/static-debian12` "
        "(prefix) and `nginx` (default upstream, `library/` added)."),
    "IngestHashBench": (
        "Blob hashing on ingest (sha256, 64 KiB chunks as the HTTP codecs deliver them)",
        "What `FsBlobWriter.write` does with every chunk of a push or a pull-through download, on "
        "random (incompressible) input; `FsBlobWriter` also writes the file (page cache, aborted: no "
        "fsync). × sha256sum is this MiB/s over `sha256sum`'s (the median of its runs) on a page-cached file, "
        "on the same CPU; `openssl dgst`, which uses the CPU's SHA instructions where it has them, is a "
        "second reference."),
    "KeyCodecBench": (
        "RocksDB keys and values (around every metadata read and write)",
        "`Keys` builds the byte keys (`repo\\0tag`, `repo\\0digest`, the blob digest, the LRU key); "
        "`Codec` encodes and decodes the records (decoding re-validates digests and names). Repository "
        "`docker.io/library/nginx`; the manifest record has two annotations."),
    "ManifestParseBench": (
        "Manifest parsing (every manifest pushed or cached)",
        "`ManifestParser.parse` on a 1.9 KiB OCI image manifest: a config, 9 layers, 2 annotations."),
}
# benchmark class.method -> what the row is called in the report
LABELS = {
    "RouteBench.parseRequest": "OciRouteParser.parseRequest",
    "RouteBench.resolve": "UpstreamRouter.resolve",
    "IngestHashBench.sha256Direct": "sha256, direct buffers (uploads)",
    "IngestHashBench.sha256Heap": "sha256, heap buffers (merged download batches)",
    "IngestHashBench.fsBlobWriter": "FsBlobWriter: file write + sha256",
    "KeyCodecBench.tagKey": "Keys.tag",
    "KeyCodecBench.manifestKey": "Keys.manifest",
    "KeyCodecBench.blobKey": "Keys.blob",
    "KeyCodecBench.lruKey": "Keys.lru",
    "KeyCodecBench.encodeTag": "Codec.encode(TagRecord)",
    "KeyCodecBench.decodeTag": "Codec.decodeTag",
    "KeyCodecBench.encodeManifest": "Codec.encode(ManifestRecord)",
    "KeyCodecBench.decodeManifest": "Codec.decodeManifest",
    "KeyCodecBench.encodeBlob": "Codec.encode(BlobRecord)",
    "KeyCodecBench.decodeBlob": "Codec.decodeBlob",
    "ManifestParseBench.parse": "ManifestParser.parse",
}


def number(v):
    """JMH writes NaN (too few iterations for an error) as a string."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return None if v != v else v


def ratio(a, b):
    if a is None or not b:
        return "—"
    r = a / b
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.2g}×"


def load_reference(path):
    """tool -> (version, MiB, [MiB/s of each run])."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        tool, version, mib, times = line.rstrip("\n").split("\t")
        mib = float(mib)
        out[tool] = (version, mib, [mib / float(t) for t in times.split(",") if float(t) > 0])
    return out


def split(result):
    cls, method = result["benchmark"].rsplit(".", 2)[-2:]
    return cls, method


def case(params):
    if not params:
        return ""
    if set(params) == {"mib"}:
        return f"{params['mib']} MiB"
    return ", ".join(params.values())


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def section(results, reference, cpu):
    out = ["## Microbenchmarks (JMH)", ""]
    if not results:
        out.append("No JMH results (the run failed or was skipped).")
        return out
    first = results[0]
    args = " or ".join(f"`{a}`" for a in dict.fromkeys(" ".join(r.get("jvmArgs", [])) for r in results))
    out.append(f"JMH {first['jmhVersion']} on {first['vmName']} {first['vmVersion']}, one JVM fork per "
               f"benchmark ({args}: bin/ocimirror's heap, collector and direct memory), pinned to CPU {cpu} "
               f"as the servers under test are: {plural(first['warmupIterations'], 'warm-up iteration')} of "
               f"{first['warmupTime']}, {plural(first['measurementIterations'], 'measured one')} of "
               f"{first['measurementTime']}. ± is JMH's 99.9% "
               "confidence half-width (— with too few iterations); ns/op is 10⁹ / (ops/s). Produced by "
               "`bench/jmh.sh` (alone) or `bench/run.sh`.")
    noisy = [r for r in results if (number(r["primaryMetric"]["scoreError"]) or 0) > r["primaryMetric"]["score"] / 2]
    if noisy:
        out.append("")
        out.append(f"**{len(noisy)} of {len(results)} rows have a ± above half their score:** their iterations "
                   "disagreed, as they do when other work shares the CPU (or with `QUICK=1`); rerun those on a "
                   "quiet machine before drawing conclusions.")
    sha = reference.get("sha256sum")
    sha_mibs = statistics.median(sha[2]) if sha and sha[2] else None
    direct = [r for r in results if split(r) == ("IngestHashBench", "sha256Direct")]
    ingest = max(direct, key=lambda r: float(r["params"]["mib"]), default=None)
    if ingest and sha_mibs:
        mibs = ingest["primaryMetric"]["score"] * float(ingest["params"]["mib"])
        out.append("")
        out.append(f"**Ingest hashing: {fmt(mibs)} MiB/s, {ratio(mibs, sha_mibs)} `sha256sum`** "
                   f"({fmt(sha_mibs)} MiB/s on a {sha[1]:.0f} MiB file; ocimirror on {ingest['params']['mib']} MiB "
                   "in direct 64 KiB chunks).")

    by_class = {}
    for r in results:
        by_class.setdefault(split(r)[0], []).append(r)
    rank = {name: i for i, name in enumerate(LABELS)}
    for rows in by_class.values():  # as listed in LABELS (keys, then codec pairs), not JMH's alphabetical order
        rows.sort(key=lambda r: rank.get(".".join(split(r)), len(rank)))
    order = [c for c in GROUPS if c in by_class] + sorted(c for c in by_class if c not in GROUPS)
    for cls in order:
        title, about = GROUPS.get(cls, (cls, ""))
        out += ["", f"### {title}", ""]
        if about:
            out += [about, ""]
        hashing = cls == "IngestHashBench"
        cases = any(r.get("params") for r in by_class[cls])
        if hashing:
            out.append("| benchmark | size | MiB/s | ± | × sha256sum |")
            out.append("|---|---|---|---|---|")
        elif cases:
            out.append("| benchmark | case | ops/s | ± | ns/op |")
            out.append("|---|---|---|---|---|")
        else:
            out.append("| benchmark | ops/s | ± | ns/op |")
            out.append("|---|---|---|---|")
        for r in by_class[cls]:
            m = r["primaryMetric"]
            score, error = number(m["score"]), number(m["scoreError"])
            label = LABELS.get(".".join(split(r)), ".".join(split(r)))
            params = r.get("params", {})
            if hashing and m["scoreUnit"] == "ops/s" and "mib" in params:
                mib = float(params["mib"])
                mibs = score * mib
                err = "—" if error is None else fmt(error * mib)
                out.append(f"| {label} | {case(params)} | {fmt(mibs)} | {err} | {ratio(mibs, sha_mibs)} |")
            else:
                err = "—" if error is None else fmt(error)
                per_op = fmt(1e9 / score) if m["scoreUnit"] == "ops/s" and score else "—"
                unit = "" if m["scoreUnit"] == "ops/s" else " " + m["scoreUnit"]
                middle = f" {case(params)} |" if cases else ""
                out.append(f"| {label} |{middle} {fmt(score)}{unit} | {err} | {per_op} |")
        if hashing:
            for tool, (version, mib, runs) in reference.items():
                if not runs:
                    continue
                med = statistics.median(runs)
                each = ", ".join(fmt(x) for x in runs)
                command = "openssl dgst -sha256" if tool == "openssl" else tool
                out.append(f"| `{command}` ({version}), a file in the page cache (runs: {each}) | {mib:.0f} MiB | "
                           f"{fmt(med)} | — | {ratio(med, sha_mibs)} |")
    return out


def main():
    directory = sys.argv[1]
    title = "--title" in sys.argv[2:]
    path = os.path.join(directory, "jmh.json")
    results = json.load(open(path)) if os.path.exists(path) else []
    reference = load_reference(os.path.join(directory, "hashref.tsv"))
    out = []
    if title:
        facts_file = os.path.join(directory, "facts")
        facts = dict(line.rstrip("\n").split("=", 1) for line in open(facts_file) if "=" in line) \
            if os.path.exists(facts_file) else {}
        out.append(f"# ocimirror microbenchmarks, {facts.get('date', '?')} on {facts.get('host', '?')}")
        out.append("")
        if facts:
            out.append("| fact | value |")
            out.append("|---|---|")
            for key in ("nproc", "cpu", "memory", "kernel", "java", "ocimirror", "note", "load_before", "load_after"):
                if facts.get(key):
                    out.append(f"| {key} | {facts[key]} |")
            out.append("")
    cpu_file = os.path.join(directory, "cpu")
    cpu = open(cpu_file).read().strip() if os.path.exists(cpu_file) else "?"
    out += section(results, reference, cpu)
    print("\n".join(out))


if __name__ == "__main__":
    main()
