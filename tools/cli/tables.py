"""Human-readable tables and JSON output for CLI results."""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from google.protobuf import json_format
from google.protobuf.message import Message


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], out=sys.stdout) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)), file=out)
    if not rows:
        print("(none)", file=out)


def print_json(messages: Sequence[Message], out=sys.stdout) -> None:
    for message in messages:
        print(json.dumps(json_format.MessageToDict(message), ensure_ascii=False), file=out)
