#!/usr/bin/env python3
"""Cross-checks tests/data/patches/strategic/*.yaml against real kubectl.

`kubectl patch --local --type strategic` runs k8s.io/apimachinery's strategicpatch with the
compiled-in types, so it is the reference for every case's `want` (or for its failing). Cases
marked `differs_from_kubectl` document a deliberate difference and are reported, not failed.
Usage: tests/data/patches/kubectl_oracle.py [KUBECTL]   (needs PyYAML; not run by ctest)
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import yaml

kubectl = sys.argv[1] if len(sys.argv) > 1 else "kubectl"
here = os.path.dirname(os.path.abspath(__file__))
failed = 0
for path in sorted(glob.glob(os.path.join(here, "strategic", "*.yaml"))):
    with open(path) as f:
        case = yaml.safe_load(f)
    name = os.path.basename(path)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as obj:
        json.dump(case["object"], obj)
        obj.flush()
        run = subprocess.run([kubectl, "patch", "--local", "-f", obj.name, "--type", "strategic",
                              "-p", json.dumps(case["patch"]), "-o", "json"],
                             capture_output=True, text=True)
    differs = case.get("differs_from_kubectl")
    if "want" in case:
        got = json.loads(run.stdout) if run.returncode == 0 else run.stderr.strip()
        ok = got == case["want"]
    else:
        got = run.stderr.strip() if run.returncode else json.loads(run.stdout)
        ok = run.returncode != 0
    if ok:
        print("ok       ", name)
    elif differs:
        print("differs  ", name, "--", differs, "\n          kubectl:", json.dumps(got))
    else:
        failed += 1
        print("MISMATCH ", name, "\n          kubectl:", json.dumps(got),
              "\n          want:   ", json.dumps(case.get("want", case.get("error"))))
sys.exit(1 if failed else 0)
