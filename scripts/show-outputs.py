#!/usr/bin/env python3
"""Print the text outputs of an executed notebook, cell by cell; with
--summary, only its key figures: the groups drawn, the validation accuracy
after each fit, the predictions, any errors, and the time it took."""
import json
import re
import sys
from datetime import datetime

EPOCH = re.compile(r"^Epoch (\d+)/(\d+) .*val_acc: ([0-9.]+)")


def text_of(out):
    """The text an output shows: a stream's text or a display's text/plain."""
    if out["output_type"] == "stream":
        return "".join(out["text"])
    if out["output_type"] in ("execute_result", "display_data"):
        return "".join(out.get("data", {}).get("text/plain", ""))
    return ""


def show_all(nb):
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        first = "".join(cell["source"]).splitlines()[0] if cell["source"] else ""
        print(f"-- In [{cell.get('execution_count')}]: {first}")
        for out in cell.get("outputs", []):
            kind = out["output_type"]
            if kind == "stream":
                print("".join(out["text"]), end="")
            elif kind in ("execute_result", "display_data"):
                data = out["data"]
                if "image/png" in data:
                    print(f"[image/png, {len(data['image/png']) * 3 // 4} bytes]")
                elif "text/plain" in data:
                    print("".join(data["text/plain"]))
            elif kind == "error":
                print(f"{out['ename']}: {out['evalue']}")


def seconds(nb):
    """Wall time from the first cell's start to the last reply (nbclient's
    per-cell timing metadata), or None when it was not recorded."""
    stamps = []
    for cell in nb["cells"]:
        ex = cell.get("metadata", {}).get("execution", {})
        for key in ("iopub.execute_input", "shell.execute_reply"):
            if key in ex:
                stamps.append(datetime.fromisoformat(ex[key].replace("Z", "+00:00")))
    return (max(stamps) - min(stamps)).total_seconds() if stamps else None


def summary(nb):
    """The key figures, as lines of text."""
    lines, errors = [], []
    uses_inception = any("InceptionV3(" in "".join(c["source"]) for c in nb["cells"]
                         if c["cell_type"] == "code")
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        last_epoch = None
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                errors.append(f"  error in cell {cell.get('id')}: {out['ename']}: {out['evalue']}")
            for line in text_of(out).splitlines():
                m = EPOCH.match(line)
                if m:
                    last_epoch = m
                elif line.startswith("You have been assigned"):
                    lines.append("  " + line)
                elif "->" in line or line.startswith("Predicted:"):
                    lines.append("  prediction: " + line)
                elif "inception_weights is null" in line and uses_inception:
                    lines.append("  InceptionV3 weights absent: trained from random weights")
        if last_epoch:
            lines.append(f"  validation accuracy {float(last_epoch.group(3)):.3f} after epoch "
                         f"{last_epoch.group(1)}/{last_epoch.group(2)} (cell {cell.get('id')})")
    t = seconds(nb)
    if t is not None:
        lines.append(f"  cells ran for {t:.0f} s")
    return lines + errors


def main(argv):
    brief = "--summary" in argv
    for path in [a for a in argv[1:] if a != "--summary"]:
        with open(path) as f:
            nb = json.load(f)
        if brief:
            print(f"{path}:")
            print("\n".join(summary(nb)))
        else:
            show_all(nb)


if __name__ == "__main__":
    main(sys.argv)
