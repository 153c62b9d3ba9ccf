"""The documented HTTP examples, run for real: each ``<!-- example: NAME -->`` block of the API tutorial
(docs/tutorials/call-the-api.md) is the commands below and what they print against a running service, written
back by ``python -m ocrops.harness.examples``.

The tests run the same commands against the test bento and compare with the page, values that depend on the
model or the moment (texts, confidences, boxes, timings, request ids) aside, so the page shows the service's
real output format and cannot drift from it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

# name -> shell commands, run from the project root with $URL set to the service
EXAMPLES: dict[str, list[str]] = {
    "ocr-line": ["curl -s -F file=@docs/img/sample-line.jpg $URL/ocr"],
    "ocr-page": ["curl -s -F file=@docs/img/sample-page.png $URL/ocr | jq -c '.mode, .lines[0], .timings'"],
    "ocr-pdf": ["curl -s -F file=@docs/img/sample-scan.pdf $URL/ocr | jq -c '(.pages[] | {page, width, height, dpi, "
                "lines: (.lines | length)}), .lines[0]'"],
    "ocr-searchable-pdf": ["curl -s -F file=@docs/img/sample-scan.pdf -F format=pdf $URL/ocr -o /tmp/scan-ocr.pdf",
                           "pdftotext -raw /tmp/scan-ocr.pdf - | head -3 | jq -R -c '{text: .}'"],
    "ocr-alto": ["curl -s -F file=@docs/img/sample-page.png -H 'Accept: application/alto+xml' $URL/ocr "
                 "| sed -n 17,22p"],
    "ocr-error": ["curl -s -X POST $URL/ocr -H 'Content-Type: application/json' "
                  "-d '{\"image\": \"bm90IGFuIGltYWdl\"}'"],
}
SHOWN_URL = "http://127.0.0.1:3000"
DOCUMENTED = Path("docs/tutorials/call-the-api.md")  # relative to the project root
BLOCK = re.compile(r"(<!-- example: (?P<name>[a-z0-9-]+) -->\n```bash\n)(?P<body>.*?)(```\n<!-- /example -->)", re.S)
# what differs between models and runs: compared by kind, not value
VOLATILE = [
    (re.compile(r'("request_id": ?)"[^"]*"'), r'\1"<id>"'),
    (re.compile(r'("(?:text|raw_text)": ?)"(?:[^"\\]|\\.)*"'), r'\1"<text>"'),
    (re.compile(r'("alias": ?)"[^"]*"'), r'\1"<alias>"'),
    (re.compile(r'(CONTENT=)"[^"]*"'), r'\1"<text>"'),
    (re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"), "<n>"),
]
# a float from the service carries at most 7 significant digits (ocrops.serving.http.tidy)
LONG_FLOAT = re.compile(r"\d*\.\d{8,}|\d{8,}\.\d+")


def run(name: str, url: str, cwd: Path) -> str:
    """One example's block: each command as shown (``$ ...``) and its output."""
    shown = []
    for command in EXAMPLES[name]:
        done = subprocess.run(["bash", "-c", command], cwd=cwd, env={"URL": url, "PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True, timeout=120, check=True)
        shown.append(f"$ {command.replace('$URL', SHOWN_URL)}\n{done.stdout.rstrip()}\n")
    return "\n".join(shown)


def blocks(readme: str) -> dict[str, str]:
    return {m["name"]: m["body"] for m in BLOCK.finditer(readme)}


def rewrite(readme: str, outputs: dict[str, str]) -> str:
    """README with each example block replaced by its fresh output."""
    return BLOCK.sub(lambda m: m.group(1) + outputs.get(m["name"], m["body"]) + m.group(4), readme)


def normalised(block: str) -> str:
    for pattern, replacement in VOLATILE:
        block = pattern.sub(replacement, block)
    return block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", help="a running service, e.g. http://127.0.0.1:3000 (`ocrops serve`)")
    parser.add_argument("--readme", type=Path, default=DOCUMENTED, help="the page holding the example blocks")
    args = parser.parse_args()
    text = args.readme.read_text(encoding="utf-8")
    outputs = {name: run(name, args.url.rstrip("/"), Path.cwd()) for name in blocks(text)}
    args.readme.write_text(rewrite(text, outputs), encoding="utf-8")
    print(f"{len(outputs)} examples written to {args.readme}")


if __name__ == "__main__":
    main()
