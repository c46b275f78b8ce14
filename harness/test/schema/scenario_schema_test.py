#!/usr/bin/python3
"""The scenario JSON Schema (scenarios/schema/scenario.schema.json) against
the loader it describes.

  1. every bundled scenario (scenarios/, ci/examples/) is accepted by the
     loader and by the schema;
  2. the schema's keys are the loader's, kind of map by kind of map, both
     ways, and so are its enumerations (roles, checks, finding kinds, signals,
     backends) and, per backend, its channel options, mutants and the
     per-process options;
  3. close cases: one valid scenario, then one change at a time; forms the
     loader accepts (short forms, quoted numbers, a matrix giving the
     backend) the schema must accept, and changes the loader refuses (an
     unknown key, a wrong type, a bad enumeration value) it must refuse.

usage: scenario_schema_test.py PROBE SOURCE_DIR
PROBE is the scenario_schema_probe program (the loader's side).
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

PROBE, SOURCE = sys.argv[1], sys.argv[2]
SCHEMA_FILE = os.path.join(SOURCE, "scenarios/schema/scenario.schema.json")
SCENARIO_DIRS = ["scenarios", "ci/examples"]

# Where each kind of map the loader reads (scenario_known_keys()) is
# described in the schema: a JSON pointer to an object schema.
KIND_POINTERS = {
    "scenario": "",
    "channel": "/definitions/channel",
    "bounds": "/definitions/bounds",
    "proxy": "/definitions/proxy",
    "process": "/definitions/process",
    "workload": "/definitions/workload",
    "distribution": "/definitions/distribution_map",
    "matrix": "/definitions/matrix",
    "matrix_backend": "/definitions/matrix_backend",
    "plugin_backend": "/definitions/plugin_backend",
    "perturb": "/definitions/perturb_map",
    "syscall_fault": "/definitions/syscall_fault_rule",
    "fault": "/definitions/fault",
    "fault_after": "/definitions/fault_after",
    "fault_random": "/definitions/fault_random",
}

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def probe(*args):
    r = subprocess.run([PROBE, *args], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def at(schema, pointer):
    node = schema
    for part in [p for p in pointer.split("/") if p]:
        node = node[part]
    return node


def errors_of(validator, doc):
    return sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))


def describe(errors):
    e = errors[0]
    return "/".join(map(str, e.absolute_path)) + ": " + e.message[:300]


with open(SCHEMA_FILE) as f:
    schema = json.load(f)
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)

# ---- 1. every bundled scenario ---------------------------------------------
files = []
for d in SCENARIO_DIRS:
    for root, _, names in os.walk(os.path.join(SOURCE, d)):
        files += [os.path.join(root, n) for n in names if n.endswith((".yaml", ".yml"))]
files.sort()
if len(files) < 40:
    fail(f"found only {len(files)} bundled scenarios under {SCENARIO_DIRS}")
for path in files:
    rel = os.path.relpath(path, SOURCE)
    rc, out, err = probe("load", path)
    if rc != 0:
        fail(f"{rel}: the loader refuses it: {out.strip()} {err.strip()}")
    rc, out, err = probe("json", path)
    if rc != 0:
        fail(f"{rel}: cannot convert to JSON: {err.strip()}")
        continue
    errs = errors_of(validator, json.loads(out))
    if errs:
        fail(f"{rel}: the schema refuses it: {describe(errs)}")
print(f"bundled scenarios checked: {len(files)}")

# ---- 2. keys and names, both ways --------------------------------------------
rc, out, err = probe("keys")
if rc != 0:
    sys.exit(f"scenario_schema_probe keys failed: {err}")
loader = json.loads(out)


def compare(what, loader_names, schema_names):
    lo, sc = set(loader_names), set(schema_names)
    if lo - sc:
        fail(f"{what}: the loader accepts {sorted(lo - sc)}, the schema does not describe them")
    if sc - lo:
        fail(f"{what}: the schema has {sorted(sc - lo)}, the loader does not accept them")


for kind, keys in loader["kinds"].items():
    if kind not in KIND_POINTERS:
        fail(f"the loader has a new kind of map '{kind}' ({keys}): describe it in the schema "
             "and add it to KIND_POINTERS")
        continue
    try:
        described = at(schema, KIND_POINTERS[kind])["properties"]
    except KeyError:
        fail(f"the schema has no '{KIND_POINTERS[kind]}' with properties for '{kind}'")
        continue
    compare(f"keys of '{kind}'", keys, described)
for kind in set(KIND_POINTERS) - set(loader["kinds"]):
    fail(f"KIND_POINTERS names '{kind}', which the loader no longer has")

defs = schema["definitions"]
compare("roles", loader["roles"], defs["process"]["properties"]["role"]["enum"])
compare("checks", loader["checks"], schema["properties"]["checks"]["items"]["enum"])
compare("finding kinds (expect)", loader["findings"],
        schema["properties"]["expect"]["items"]["enum"])
signals = loader["signals"] + [s[3:] for s in loader["signals"]]
compare("signaler signals", signals, defs["process"]["properties"]["signal"]["enum"])
compare("perturb kinds", loader["perturb_kinds"],
        defs["perturb_map"]["properties"]["kinds"]["items"]["enum"])
compare("backends", loader["backends"], defs["backend_name"]["enum"])
compare("syscall fault calls", loader["syscall_fault_calls"], defs["syscall_fault_call"]["enum"])

per_backend = {}
for case in defs["channel"]["allOf"]:
    name = case["if"]["properties"]["backend"]["const"]
    per_backend[name] = case["then"]["properties"]
compare("backends with channel options in the schema", loader["backends"], per_backend)
endpoint_keys = set()
for name, b in loader["backends"].items():
    endpoint_keys |= set(b["endpoint_keys"])
    if name not in per_backend:
        continue
    compare(f"channel options of {name}", b["options"], per_backend[name]["options"]["properties"])
    compare(f"mutants of {name}", b["mutants"], per_backend[name]["mutant"].get("enum", []))
compare("process options", endpoint_keys, defs["process"]["properties"]["options"]["properties"])

# ---- 3. close negative cases -------------------------------------------------
BASE = {
    "name": "schema-base",
    "seed": 7,
    "timeout": "30s",
    "perturb": {"probability": 0.1, "kinds": ["yield"]},
    "channels": {
        "q": {"backend": "sysv_msg", "options": {"nonblocking": True}},
        "r": {"backend": "shm", "options": {"layout": "ring", "sync": "atomic"}},
        "u": {"backend": "udp", "bounds": {"max_loss": 0.5}},
    },
    "processes": [
        {"role": "producer", "channel": "q",
         "workload": {"messages": 10, "size": {"min": 32, "max": 64}, "type": 1}},
        {"role": "consumer", "channel": "q", "options": {"msgtyp": 1}, "cpus": "any"},
        {"role": "producer", "channel": "r", "workload": {"messages": 10, "size": 64}},
        {"role": "relay", "input": "r", "output": "u"},
        {"role": "consumer", "channel": "u", "workload": {"start_delay": "10ms"}},
        {"role": "signaler", "targets": ["consumer"], "signal": "SIGUSR1",
         "workload": {"rate": 100, "duration": "1s"}},
    ],
    "checks": ["lost", "duplicated", "corrupted"],
}


def with_change(path, value):
    doc = copy.deepcopy(BASE)
    node = doc
    for p in path[:-1]:
        node = node[p]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


DELETE = object()
NEGATIVE = [
    ("unknown top-level key", ["chanels"], {}),
    ("unknown channel key", ["channels", "q", "backnd"], "pipe"),
    ("unknown process key", ["processes", 0, "chanel"], "q"),
    ("unknown workload key", ["processes", 0, "workload", "mesages"], 5),
    ("unknown size key", ["processes", 0, "workload", "size", "mean"], 40),
    ("unknown bounds key", ["channels", "u", "bounds", "max_lost"], 0.1),
    ("unknown perturb key", ["perturb", "probabilty"], 0.1),
    ("unknown channel option", ["channels", "q", "options", "depth"], 4),
    ("unknown process option", ["processes", 1, "options", "msgtype"], 1),
    ("unknown backend", ["channels", "q", "backend"], "sysv"),
    ("unknown mutant", ["channels", "r", "mutant"], "whole-read"),
    ("unknown role", ["processes", 1, "role"], "reader"),
    ("unknown check", ["checks"], ["lost", "order"]),
    ("unknown finding kind", ["expect"], ["loss"]),
    ("unknown signal", ["processes", 5, "signal"], "SIGKILL"),
    ("unknown perturb kind", ["perturb", "kinds"], ["nap"]),
    ("unknown cpu placement", ["processes", 1, "cpus"], "all"),
    ("bad shm layout", ["channels", "r", "options", "layout"], "queue"),
    ("name with a space", ["name"], "schema base"),
    ("channels as a list", ["channels"], [{"q": {"backend": "pipe"}}]),
    ("processes as a map", ["processes"], {"role": "producer"}),
    ("messages as a word", ["processes", 0, "workload", "messages"], "ten"),
    ("timeout without a number", ["timeout"], "soon"),
    ("seed negative", ["seed"], -1),
    ("size as a list", ["processes", 2, "workload", "size"], [64]),
    ("bounds above 1", ["channels", "u", "bounds", "max_loss"], 1.5),
    ("sigsafe as a word", ["processes", 1, "sigsafe"], "maybe"),
    ("option as a map", ["channels", "q", "options", "nonblocking"], {"x": 1}),
    ("count zero", ["processes", 1, "count"], 0),
    ("producer without workload", ["processes", 0, "workload"], DELETE),
    ("relay with a channel", ["processes", 3, "channel"], "q"),
    ("consumer with an input", ["processes", 1, "input"], "r"),
    ("priority and type both", ["processes", 0, "workload", "priority"], 1),
    ("checks empty", ["checks"], []),
    ("plugin backend without a library", ["channels", "q", "backend"], {"options": {}}),
    ("program on a consumer", ["processes", 1, "program"], "/bin/cat"),
    ("unknown syscall fault error", ["processes", 1, "syscall_faults"],
     {"error": "EIO", "probability": 0.1}),
    ("unknown syscall fault call", ["processes", 1, "syscall_faults"],
     {"error": "EINTR", "calls": ["open"], "probability": 0.1}),
    ("syscall fault with probability and nth", ["syscall_faults"],
     {"error": "short", "probability": 0.1, "nth": 3}),
    ("syscall fault without a trigger", ["syscall_faults"], [{"error": "EINTR"}]),
    ("syscall fault probability 0", ["processes", 1, "syscall_faults"],
     {"error": "EINTR", "probability": 0}),
    ("syscall fault nth 0", ["processes", 1, "syscall_faults"], {"error": "EINTR", "nth": 0}),
]


# Other forms the loader accepts, each a change of the base: the schema must
# accept them too.
POSITIVE = [
    ("perturb off", ["perturb"], "off"),
    ("perturb short form", ["perturb"], "p=0.05,sleep=200us,kinds=yield+sleep"),
    ("perturb probability", ["perturb"], 0.25),
    ("cpus list", ["processes", 1, "cpus"], [0]),
    ("size choices", ["processes", 2, "workload", "size"], {"choices": [32, 64], "weights": [1, 3]}),
    ("sigsafe yes", ["processes", 1, "sigsafe"], "yes"),
    ("signal without SIG", ["processes", 5, "signal"], "USR2"),
    ("one target", ["processes", 5, "targets"], "producer"),
    ("duration", ["processes", 2, "workload"], {"duration": "200ms", "rate": 1000}),
    ("quoted number", ["seed"], "7"),
    ("syscall faults off", ["processes", 1, "syscall_faults"], "off"),
    ("syscall faults list", ["syscall_faults"],
     [{"error": "EINTR", "calls": "msgrcv", "probability": 0.05},
      {"error": "short", "calls": ["read", "write"], "nth": 4}]),
]
# A matrix with a backend dimension gives every channel its backend: the
# channels may then leave it out.
MATRIX_DOC = {
    "name": "schema-matrix",
    "matrix": {"backend": ["pipe", {"backend": "fifo", "options": {"write_lock": True}}],
               "size": [64, {"min": 32, "max": 128}]},
    "channels": {"data": {}},
    "processes": [{"role": "producer", "channel": "data", "workload": {"messages": 10}},
                  {"role": "consumer", "channel": "data"}],
}
def loader_refuses(doc):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        json.dump(doc, f)  # JSON is YAML: the loader reads it as written
        path = f.name
    try:
        rc, out, err = probe("load", path)
    finally:
        os.unlink(path)
    return rc == 2, (out + err).strip()


ok, why = loader_refuses(BASE)
if ok:
    fail(f"the base of the negative cases is refused by the loader: {why}")
if errors_of(validator, BASE):
    fail(f"the base of the negative cases is refused by the schema: "
         f"{describe(errors_of(validator, BASE))}")
for title, doc in [(t, with_change(p, v)) for t, p, v in POSITIVE] + [("matrix", MATRIX_DOC)]:
    refused, why = loader_refuses(doc)
    if refused:
        fail(f"positive case '{title}': the loader refuses it: {why}")
    errs = errors_of(validator, doc)
    if errs:
        fail(f"positive case '{title}': the schema refuses it: {describe(errs)}")
print(f"positive cases checked: {len(POSITIVE) + 1}")
for title, path, value in NEGATIVE:
    doc = with_change(path, value)
    refused, why = loader_refuses(doc)
    if not refused:
        fail(f"negative case '{title}': the loader accepts it ({why or 'exit 0'})")
    if not errors_of(validator, doc):
        fail(f"negative case '{title}': the schema accepts it (loader: {why})")
print(f"negative cases checked: {len(NEGATIVE)}")

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("scenario schema matches the loader")
