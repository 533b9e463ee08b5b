#!/usr/bin/env python3
"""Compare privctl with Presidio's pattern recognizers and Yelp's detect-secrets.

All three tools run over the same labelled corpus; the script prints per-kind
precision / recall and throughput as Markdown and can write the same data as
JSON. See README.md beside this file for the input formats and the matching rule.
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, NamedTuple

MB = 1_000_000  # throughput and --*-max-mb use decimal megabytes
PRESIDIO_CHUNK_BYTES = 1 * MB
DETECT_SECRETS_CHUNK_BYTES = 4 * MB
MIN_OVERLAP = 0.5  # of the shorter span
PRESIDIO_HIGH_SCORE = 0.5

# Decoding with surrogateescape maps each invalid byte to one code point and
# back, so byte offsets stay exact even if the corpus is not clean UTF-8.
ENCODING, ERRORS = "utf-8", "surrogateescape"

CANONICAL_KINDS = (
    "email", "phone", "credit_card", "iban", "us_ssn", "in_pan", "in_aadhaar",
    "ipv4", "ipv6", "mac_address", "aws_access_key", "aws_secret_key",
    "github_token", "gitlab_token", "openai_key", "anthropic_key",
    "google_api_key", "stripe_key", "slack_token", "jwt", "private_key",
    "url_credentials", "bearer_token", "password_assignment", "crypto_wallet",
    "high_entropy_secret", "in_gstin", "uk_nino", "imei", "sendgrid_key",
    "twilio_key", "npm_token", "huggingface_token", "azure_secret",
    "gcp_service_account", "db_connection_string",
)

# IP_ADDRESS is split into ipv4 / ipv6 by presidio_kind().
PRESIDIO_ENTITY_TO_KIND = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban",
    "US_SSN": "us_ssn",
    "IN_PAN": "in_pan",
    "IN_AADHAAR": "in_aadhaar",
    "MAC_ADDRESS": "mac_address",
    "CRYPTO": "crypto_wallet",
    "UK_NINO": "uk_nino",
}
PRESIDIO_KINDS = frozenset(PRESIDIO_ENTITY_TO_KIND.values()) | {"ipv4", "ipv6"}

# Secret types as named by detect-secrets 1.5.0. Its "AWS Access Key" plugin
# also reports secret access keys (40 chars next to an "aws ... key" name);
# detect_secrets_kind() tells the two apart by the value's shape.
DETECT_SECRETS_TYPE_TO_KIND = {
    "AWS Access Key": "aws_access_key",
    "GitHub Token": "github_token",
    "GitLab Token": "gitlab_token",
    "Slack Token": "slack_token",
    "Stripe Access Key": "stripe_key",
    "JSON Web Token": "jwt",
    "Private Key": "private_key",
    "Basic Auth Credentials": "url_credentials",
    "Secret Keyword": "password_assignment",
    "Base64 High Entropy String": "high_entropy_secret",
    "Hex High Entropy String": "high_entropy_secret",
    "OpenAI Token": "openai_key",
    "Public IP (ipv4)": "ipv4",
    "SendGrid API Key": "sendgrid_key",
    "Twilio API Key": "twilio_key",
    "NPM tokens": "npm_token",
    "Azure Storage Account access key": "azure_secret",
}
DETECT_SECRETS_KINDS = frozenset(DETECT_SECRETS_TYPE_TO_KIND.values()) | {"aws_secret_key"}
AWS_ACCESS_KEY_ID = re.compile(r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}")
# Characters a reported secret value is extended over, see locate_secret().
TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-]*")


class Span(NamedTuple):
    kind: str
    start: int  # byte offset into the corpus, inclusive
    end: int  # byte offset, exclusive
    score: float = 1.0


@dataclass
class ToolRun:
    name: str
    supported_kinds: frozenset[str]
    bytes_processed: int = 0
    is_prefix: bool = False
    seconds: float = 0.0
    predictions: list[Span] = field(default_factory=list)
    unmapped: Counter = field(default_factory=Counter)  # detections outside our kinds
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    skipped: str | None = None  # why the tool did not run


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def as_json(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": self.precision, "recall": self.recall}


@dataclass
class Column:
    """One evaluated view of a tool run, e.g. Presidio keeping only score >= 0.5."""
    title: str
    run: ToolRun
    min_score: float = 0.0
    per_kind: dict[str, Score | None] = field(default_factory=dict)  # None: not supported
    all_kinds: Score = field(default_factory=Score)
    any_kind: Score = field(default_factory=Score)


# --------------------------------------------------------------------------
# Corpus and labels


def load_labels(path: Path) -> list[Span]:
    labels = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            start, end = int(obj["start"]), int(obj["end"])
            if not 0 <= start < end:
                raise SystemExit(f"{path}:{number}: bad span {start}..{end}")
            labels.append(Span(obj["kind"], start, end))
    return labels


def prefix_length(data: bytes, max_mb: float | None) -> int:
    """Length of the longest prefix of at most max_mb that ends at a line boundary."""
    if not max_mb or len(data) <= max_mb * MB:
        return len(data)
    limit = int(max_mb * MB)
    newline = data.rfind(b"\n", 0, limit)
    if newline >= 0:
        return newline + 1
    newline = data.find(b"\n", limit)  # a first line longer than the limit
    return newline + 1 if newline >= 0 else len(data)


def line_chunks(data: bytes, end: int, chunk_bytes: int) -> Iterator[tuple[int, bytes]]:
    """Yield (offset, chunk) covering data[:end], each chunk ending at a line boundary."""
    pos = 0
    while pos < end:
        cut = min(pos + chunk_bytes, end)
        if cut < end:
            newline = data.rfind(b"\n", pos, cut)
            if newline < 0:
                newline = data.find(b"\n", cut, end)
            cut = newline + 1 if newline >= 0 else end
        yield pos, data[pos:cut]
        pos = cut


def char_to_byte_offsets(text: str, positions: set[int]) -> dict[int, int]:
    """Map character offsets into text to byte offsets into its encoding."""
    mapping = {}
    previous = byte = 0
    for pos in sorted(positions):
        byte += len(text[previous:pos].encode(ENCODING, ERRORS))
        mapping[pos] = byte
        previous = pos
    return mapping


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# privctl


def run_privctl(binary: str | None, corpus: Path, corpus_bytes: int, kinds: list[str]) -> ToolRun:
    # privctl is meant to cover every canonical kind (and any extra labelled one).
    run = ToolRun("privctl", frozenset(kinds))
    if not binary:
        run.skipped = "no --privctl given"
        return run
    resolved = shutil.which(binary) or (binary if os.access(binary, os.X_OK) else None)
    if resolved is None:
        run.skipped = f"binary not found or not executable: {binary} (build it with cargo first)"
        return run

    log(f"privctl: scanning {corpus_bytes / MB:.1f} MB ...")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.run([resolved, "scan", "--json", str(corpus)], stdout=out, stderr=err)
        run.seconds = time.perf_counter() - started
        if proc.returncode not in (0, 1):  # 1 = findings, with --fail-on-findings style exits
            err.seek(0)
            tail = err.read()[-2000:].decode(ENCODING, "replace").strip()
            run.skipped = f"exited with status {proc.returncode}: {tail}"
            return run
        out.seek(0)
        for number, line in enumerate(out, 1):
            if not line.strip():
                continue
            try:
                finding = json.loads(line)
                span = Span(finding["kind"], int(finding["start"]), int(finding["end"]))
            except (ValueError, KeyError) as e:
                raise SystemExit(
                    f"privctl output line {number} is not a finding ({e}): {line[:200]!r}") from None
            if span.kind in run.supported_kinds:
                run.predictions.append(span)
            else:
                run.unmapped[span.kind] += 1
    run.bytes_processed = corpus_bytes
    return run


# --------------------------------------------------------------------------
# Presidio


def presidio_kind(entity_type: str, matched_text: str) -> str | None:
    if entity_type == "IP_ADDRESS":
        return "ipv6" if ":" in matched_text else "ipv4"
    return PRESIDIO_ENTITY_TO_KIND.get(entity_type)


def use_bundled_public_suffix_list() -> None:
    """Stop tldextract (used by Presidio's EmailRecognizer) from fetching the list online.

    With no URLs it loads the snapshot shipped inside the tldextract package.
    """
    import tldextract
    import tldextract.tldextract

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())


def presidio_recognizers(run: ToolRun) -> list:
    """Presidio's predefined recognizers for our kinds, each used without an NLP engine."""
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer, CryptoRecognizer, EmailRecognizer, IbanRecognizer,
        InAadhaarRecognizer, InPanRecognizer, IpRecognizer, MacAddressRecognizer,
        PhoneRecognizer, UsSsnRecognizer,
    )

    import presidio_analyzer.predefined_recognizers as predefined

    working = []
    optional = [getattr(predefined, name) for name in ("UkNinoRecognizer",)
                if hasattr(predefined, name)]
    for cls in (EmailRecognizer, PhoneRecognizer, CreditCardRecognizer, IbanRecognizer,
                UsSsnRecognizer, InPanRecognizer, InAadhaarRecognizer, IpRecognizer,
                MacAddressRecognizer, CryptoRecognizer, *optional):
        try:
            recognizer = cls()
            recognizer.analyze("probe a@b.co 10.0.0.1", entities=recognizer.supported_entities,
                               nlp_artifacts=None)
        except Exception as e:  # noqa: BLE001 - report any recognizer that cannot run
            run.notes.append(f"{cls.__name__} dropped: fails without an NLP engine ({e!r})")
            continue
        working.append(recognizer)
    return working


def run_presidio(data: bytes, end: int) -> ToolRun:
    run = ToolRun("presidio", PRESIDIO_KINDS, bytes_processed=end, is_prefix=end < len(data))
    try:
        use_bundled_public_suffix_list()
        recognizers = presidio_recognizers(run)
    except ImportError as e:
        run.skipped = f"presidio-analyzer is not importable ({e}); use run.sh"
        return run

    log(f"presidio: scanning {end / MB:.1f} MB with {len(recognizers)} recognizers ...")
    recognizer_seconds = Counter()
    started = time.perf_counter()
    for offset, chunk in line_chunks(data, end, PRESIDIO_CHUNK_BYTES):
        text = chunk.decode(ENCODING, ERRORS)
        results = []
        for recognizer in recognizers:
            t0 = time.perf_counter()
            results += recognizer.analyze(text, entities=recognizer.supported_entities,
                                          nlp_artifacts=None)
            recognizer_seconds[type(recognizer).__name__] += time.perf_counter() - t0
        if chunk.isascii():
            to_byte = None
        else:
            to_byte = char_to_byte_offsets(text, {p for r in results for p in (r.start, r.end)})
        for r in results:
            kind = presidio_kind(r.entity_type, text[r.start:r.end])
            if kind is None:
                run.unmapped[r.entity_type] += 1
                continue
            start, stop = (r.start, r.end) if to_byte is None else (to_byte[r.start], to_byte[r.end])
            run.predictions.append(Span(kind, offset + start, offset + stop, r.score))
        log(f"presidio: {(offset + len(chunk)) / MB:.1f} / {end / MB:.1f} MB, "
            f"{time.perf_counter() - started:.0f} s")
    run.seconds = time.perf_counter() - started
    run.details["recognizer_seconds"] = {k: round(v, 3) for k, v in recognizer_seconds.most_common()}
    return run


# --------------------------------------------------------------------------
# detect-secrets


def detect_secrets_kind(secret_type: str, value: str) -> str | None:
    if secret_type == "AWS Access Key" and not AWS_ACCESS_KEY_ID.fullmatch(value):
        return "aws_secret_key"
    return DETECT_SECRETS_TYPE_TO_KIND.get(secret_type)


def locate_secret(line: str, value: str) -> list[tuple[int, int]]:
    """Character spans of every occurrence of a reported secret value in its line.

    detect-secrets reports values, not positions. Some values are cut short:
    the GitHub and GitLab plugins report only the capture group ("ghp",
    "glpat") and the JWT plugin stops after the payload's ".". Each span is
    therefore extended over the token characters that follow it.
    """
    spans = []
    start = line.find(value)
    while start >= 0 and value:
        end = TOKEN_TAIL.match(line, start + len(value)).end()
        spans.append((start, end))
        start = line.find(value, end)
    return spans


def run_detect_secrets(data: bytes, end: int, filename: str) -> ToolRun:
    run = ToolRun("detect-secrets", DETECT_SECRETS_KINDS, bytes_processed=end,
                  is_prefix=end < len(data))
    try:
        # _process_line_based_plugins is what `detect-secrets scan` runs for each
        # file: every default plugin on every line, then the default filters
        # (UUIDs, sequential strings, templated values, ...). It is private API,
        # which is why run.sh pins the version.
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.core.scan import _process_line_based_plugins
        from detect_secrets.settings import default_settings
    except ImportError as e:
        run.skipped = f"detect-secrets is not importable ({e}); use run.sh"
        return run

    installed_types = set(get_mapping_from_secret_type_to_class())
    for missing in sorted(set(DETECT_SECRETS_TYPE_TO_KIND) - installed_types):
        run.notes.append(f"secret type {missing!r} is not in this detect-secrets version")

    log(f"detect-secrets: scanning {end / MB:.1f} MB ...")
    not_located = 0
    started = time.perf_counter()
    with default_settings():
        for offset, chunk in line_chunks(data, end, DETECT_SECRETS_CHUNK_BYTES):
            raw_lines = chunk.split(b"\n")
            lines = [raw.decode(ENCODING, ERRORS) for raw in raw_lines]
            line_offsets = [offset]
            for raw in raw_lines:
                line_offsets.append(line_offsets[-1] + len(raw) + 1)
            # The filename only selects the keyword plugin's regexes (by extension).
            for secret in _process_line_based_plugins(list(enumerate(lines, 1)), filename):
                kind = detect_secrets_kind(secret.type, secret.secret_value)
                if kind is None:
                    run.unmapped[secret.type] += 1
                    continue
                index = secret.line_number - 1
                line, line_start = lines[index], line_offsets[index]
                spans = locate_secret(line, secret.secret_value)
                not_located += not spans
                ascii_line = line.isascii()
                for start, stop in spans:
                    if not ascii_line:
                        to_byte = char_to_byte_offsets(line, {start, stop})
                        start, stop = to_byte[start], to_byte[stop]
                    run.predictions.append(Span(kind, line_start + start, line_start + stop))
            log(f"detect-secrets: {(offset + len(chunk)) / MB:.1f} / {end / MB:.1f} MB, "
                f"{time.perf_counter() - started:.0f} s")
    run.seconds = time.perf_counter() - started
    if not_located:
        run.notes.append(f"{not_located} reported values could not be found in their line")
    return run


# --------------------------------------------------------------------------
# Scoring


def overlaps_enough(a: Span, b: Span) -> bool:
    overlap = min(a.end, b.end) - max(a.start, b.start)
    return overlap > 0 and overlap >= MIN_OVERLAP * min(a.end - a.start, b.end - b.start)


def match(labels: list[Span], predictions: list[Span]) -> Score:
    """Match predictions to labels one to one; kinds are assumed already equal.

    Predictions are taken in order of position; each claims the unclaimed,
    sufficiently overlapping label it overlaps most.
    """
    labels = sorted(labels)
    starts = [label.start for label in labels]
    longest = max((label.end - label.start for label in labels), default=0)
    claimed = [False] * len(labels)
    unique_predictions = sorted(set(predictions))
    tp = 0
    for prediction in unique_predictions:
        best, best_overlap = None, 0
        # Candidates start before the prediction ends and no earlier than
        # `longest` bytes before it starts.
        i = bisect.bisect_left(starts, prediction.end) - 1
        while i >= 0 and starts[i] + longest > prediction.start:
            label = labels[i]
            if not claimed[i] and overlaps_enough(label, prediction):
                overlap = min(label.end, prediction.end) - max(label.start, prediction.start)
                if overlap > best_overlap:
                    best, best_overlap = i, overlap
            i -= 1
        if best is not None:
            claimed[best] = True
            tp += 1
    return Score(tp=tp, fp=len(unique_predictions) - tp, fn=len(labels) - tp)


def merge_spans(spans: list[Span]) -> list[Span]:
    """Union of the byte ranges, kind dropped: what a redactor would mask."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Span("", last.start, max(last.end, span.end))
        else:
            merged.append(Span("", span.start, span.end))
    return merged


def by_kind(spans: list[Span]) -> dict[str, list[Span]]:
    groups: dict[str, list[Span]] = {}
    for span in spans:
        groups.setdefault(span.kind, []).append(span)
    return groups


def evaluate(column: Column, labels: list[Span], kinds: list[str]) -> None:
    run = column.run
    labels = [label for label in labels if label.start < run.bytes_processed]
    predictions = [p for p in run.predictions if p.score >= column.min_score]
    labels_by_kind, predictions_by_kind = by_kind(labels), by_kind(predictions)
    for kind in kinds:
        if kind not in run.supported_kinds:
            column.per_kind[kind] = None
            continue
        score = match(labels_by_kind.get(kind, []), predictions_by_kind.get(kind, []))
        column.per_kind[kind] = score
        column.all_kinds.add(score)
    column.any_kind = match([label._replace(kind="") for label in labels], merge_spans(predictions))


# --------------------------------------------------------------------------
# Report


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def fmt_score(score: Score | None) -> str:
    if score is None:
        return "—"
    return f"{fmt_ratio(score.precision)} / {fmt_ratio(score.recall)}"


def markdown_report(corpus: Path, corpus_bytes: int, labels: list[Span], kinds: list[str],
                    runs: list[ToolRun], columns: list[Column]) -> str:
    label_counts = Counter(label.kind for label in labels)
    out = [f"# privctl vs Presidio vs detect-secrets on `{corpus}`", "",
           f"{corpus_bytes:,} bytes, {len(labels):,} labelled spans. "
           "Cells are precision / recall; `—` = the tool has no detector for the kind; "
           "`n/a` = undefined (no predictions, or no labels in the bytes the tool processed).",
           ""]

    header = ["kind", "labels"] + [f"{c.title} P / R" for c in columns]
    out += ["| " + " | ".join(header) + " |",
            "|" + "|".join(["---", "---:"] + ["---"] * len(columns)) + "|"]
    for kind in kinds:
        cells = [kind, f"{label_counts[kind]:,}"] + [fmt_score(c.per_kind.get(kind)) for c in columns]
        out.append("| " + " | ".join(cells) + " |")
    out.append("| **all supported kinds (micro)** | | "
               + " | ".join(fmt_score(c.all_kinds) for c in columns) + " |")
    out.append("| **any kind (flagged bytes)** | | "
               + " | ".join(fmt_score(c.any_kind) for c in columns) + " |")

    out += ["", "## Throughput", "",
            "| tool | bytes processed | seconds | MB/s |", "|---|---:|---:|---:|"]
    for run in runs:
        if run.skipped:
            out.append(f"| {run.name} | skipped | | |")
            continue
        scope = "first {:,} (prefix)" if run.is_prefix else "{:,} (all)"
        scope = scope.format(run.bytes_processed)
        out.append(f"| {run.name} | {scope} | {run.seconds:.2f} | {mb_per_s(run):.2f} |")

    notes = []
    for run in runs:
        if run.skipped:
            notes.append(f"{run.name} skipped: {run.skipped}")
            continue
        if run.is_prefix:
            inside = sum(label.start < run.bytes_processed for label in labels)
            notes.append(f"{run.name} ran on the first {run.bytes_processed:,} bytes only (cut at a line "
                         f"boundary); its scores count only the {inside:,} labels that start there.")
        notes += [f"{run.name}: {note}" for note in run.notes]
        if run.unmapped:
            ignored = ", ".join(f"{name} ×{n}" for name, n in run.unmapped.most_common())
            notes.append(f"{run.name}: detections with no canonical kind were ignored: {ignored}")
        if "recognizer_seconds" in run.details:
            timing = ", ".join(f"{name} {s:.1f} s" for name, s in run.details["recognizer_seconds"].items())
            notes.append(f"{run.name} time per recognizer: {timing}")
    if notes:
        out += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    return "\n".join(out) + "\n"


def mb_per_s(run: ToolRun) -> float:
    return run.bytes_processed / MB / run.seconds if run.seconds else 0.0


def json_report(corpus: Path, corpus_bytes: int, labels: list[Span],
                runs: list[ToolRun], columns: list[Column]) -> dict:
    return {
        "corpus": {"path": str(corpus), "bytes": corpus_bytes, "labels": len(labels)},
        "matching": {"same_kind": True, "min_overlap_of_shorter_span": MIN_OVERLAP,
                     "one_label_per_prediction": True},
        "tools": [{
            "name": run.name,
            "skipped": run.skipped,
            "bytes_processed": run.bytes_processed,
            "prefix": run.is_prefix,
            "seconds": round(run.seconds, 4),
            "mb_per_s": round(mb_per_s(run), 4),
            "predictions": len(run.predictions),
            "unmapped": dict(run.unmapped),
            "notes": run.notes,
            **run.details,
        } for run in runs],
        "columns": [{
            "title": c.title,
            "tool": c.run.name,
            "min_score": c.min_score,
            "per_kind": {k: s.as_json() if s else None for k, s in c.per_kind.items()},
            "all_supported_kinds": c.all_kinds.as_json(),
            "any_kind": c.any_kind.as_json(),
        } for c in columns],
    }


# --------------------------------------------------------------------------


def megabytes(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return number


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="UTF-8 text corpus")
    parser.add_argument("--labels", type=Path, required=True,
                        help='JSONL labels: {"kind", "start", "end"} byte offsets, end exclusive')
    parser.add_argument("--privctl", help="privctl binary (skipped with a note if missing)")
    parser.add_argument("--presidio-max-mb", type=megabytes, default=8,
                        help="run Presidio on at most this many MB (line-aligned prefix); 0 = all "
                             "(default: %(default)s)")
    parser.add_argument("--detect-secrets-max-mb", type=megabytes, default=32,
                        help="likewise for detect-secrets (default: %(default)s)")
    parser.add_argument("--json-out", type=Path, help="also write the results as JSON here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    data = args.corpus.read_bytes()
    labels = load_labels(args.labels)
    kinds = list(CANONICAL_KINDS)
    kinds += sorted({label.kind for label in labels} - set(kinds))

    privctl = run_privctl(args.privctl, args.corpus, len(data), kinds)
    presidio = run_presidio(data, prefix_length(data, args.presidio_max_mb))
    detect_secrets = run_detect_secrets(data, prefix_length(data, args.detect_secrets_max_mb),
                                        args.corpus.name)
    runs = [privctl, presidio, detect_secrets]
    columns = [Column("privctl", privctl), Column("presidio", presidio),
               Column(f"presidio ≥{PRESIDIO_HIGH_SCORE}", presidio, min_score=PRESIDIO_HIGH_SCORE),
               Column("detect-secrets", detect_secrets)]
    columns = [c for c in columns if not c.run.skipped]
    for column in columns:
        evaluate(column, labels, kinds)

    print(markdown_report(args.corpus, len(data), labels, kinds, runs, columns), end="")
    if args.json_out:
        report = json_report(args.corpus, len(data), labels, runs, columns)
        args.json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
