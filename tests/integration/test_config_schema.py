"""config/loopgate.schema.json, the parser and the example config agree on every key: the schema
lists exactly the keys loopgate accepts in each object (asked of the real parser, which names the
keys it expects when it meets an unknown one), and the example config shows every one of them."""

import json
import re
import subprocess

from conftest import LOOPGATE_BIN, REPO

SCHEMA = json.loads((REPO / "config" / "loopgate.schema.json").read_text())
ROUTE = {"name": "gw", "listen": "127.0.0.1:0", "upstream": "wss://gateway.test"}


def schema_objects(node, path=()):
    """(path, property names) of every object in the schema with a fixed set of keys."""
    if "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    if node.get("type") == "array":
        yield from schema_objects(node["items"], path + ("[0]",))
        return
    if node.get("type") != "object" or node.get("additionalProperties") is not False:
        return
    yield path, set(node["properties"])
    for name, child in node["properties"].items():
        yield from schema_objects(child, path + (name,))


def config_with_unknown_key_at(path):
    config = {"routes": [dict(ROUTE)]}
    node = config
    for part in path:
        if part == "[0]":
            node = node["routes"][0] if node is config else node[0]
            continue
        if part == "routes":
            continue
        node = node.setdefault(part, {})
    node["zz_not_a_key"] = 1
    return config


def parser_keys(tmp_path, path):
    file = tmp_path / "c.json"
    file.write_text(json.dumps(config_with_unknown_key_at(path)))
    done = subprocess.run([str(LOOPGATE_BIN), "check", "--config", str(file)], capture_output=True, text=True)
    match = re.search(r"zz_not_a_key: unknown key \(expected one of: ([^)]*)\)", done.stderr)
    assert match, f"{'.'.join(path)}: {done.stderr}"
    return set(match.group(1).split(", "))


def test_the_schema_lists_exactly_the_keys_the_parser_accepts(tmp_path):
    objects = list(schema_objects(SCHEMA))
    assert len(objects) >= 10  # top level, route, tls, timeouts, limits, liveness, reconnect, network, log, admin
    for path, keys in objects:
        accepted = parser_keys(tmp_path, path)
        where = ".".join(path) or "(top level)"
        assert keys == accepted, (f"{where}: only in the schema: {sorted(keys - accepted)}; "
                                  f"only in the parser: {sorted(accepted - keys)}")


def strip_jsonc(text):
    """JSON with // and /* */ comments, as loopgate reads it, to plain JSON."""
    out, i, in_string = [], 0, False
    while i < len(text):
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            i = text.find("\n", i) - 1 if "\n" in text[i:] else len(text)
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 1
        else:
            out.append(c)
        i += 1
    return "".join(out)


def example_keys(node, path=()):
    if isinstance(node, list):
        for item in node:
            yield from example_keys(item, path + ("[0]",))
    elif isinstance(node, dict):
        for name, child in node.items():
            yield path, name
            if name != "upstream_headers":
                yield from example_keys(child, path + (name,))


def test_the_example_config_shows_every_key():
    example = json.loads(strip_jsonc((REPO / "config" / "loopgate.example.jsonc").read_text()))
    shown = {}
    for path, name in example_keys(example):
        shown.setdefault(path, set()).add(name)
    for path, keys in schema_objects(SCHEMA):
        missing = keys - shown.get(path, set())
        assert not missing, f"{'.'.join(path) or '(top level)'}: the example does not show {sorted(missing)}"
