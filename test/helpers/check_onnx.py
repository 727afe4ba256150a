"""The official ONNX checks on exported files: check_model(full_check=True) and strict shape inference.

Usage: /usr/bin/python3 test/helpers/check_onnx.py FILE...
Prints one JSON line per file: {"file", "ok", "error", "irVersion", "opset"}; exits 1 if any file fails.
"""
import json
import sys

import onnx

failed = False
for path in sys.argv[1:]:
    row = {"file": path, "ok": True, "error": None, "irVersion": None, "opset": None}
    try:
        model = onnx.load(path)
        row["irVersion"] = model.ir_version
        row["opset"] = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")][0]
        onnx.checker.check_model(model, full_check=True)
        onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as e:  # any failure of the official checks is a failed file
        row["ok"] = False
        row["error"] = f"{type(e).__name__}: {e}"
        failed = True
    print(json.dumps(row), flush=True)
sys.exit(1 if failed else 0)
