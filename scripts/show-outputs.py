#!/usr/bin/env python3
"""Print the text outputs of an executed notebook, cell by cell."""
import json
import sys

nb = json.load(open(sys.argv[1]))
for i, cell in enumerate(nb["cells"]):
    if cell["cell_type"] != "code":
        continue
    print(f"-- In [{cell.get('execution_count')}]: {''.join(cell['source']).splitlines()[0] if cell['source'] else ''}")
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
