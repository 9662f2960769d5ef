#!/usr/bin/env python3
"""Writes a C++ header holding a text file as one constant, so the binary carries
the file it was built with (daemon/meson.build: tools/loopgate.service).

    embed-text.py INPUT OUTPUT NAME
"""
import sys

source, output, name = sys.argv[1:4]
text = open(source, encoding="utf-8").read()
delimiter = "loopgate_text"
if f"){delimiter}\"" in text:
    sys.exit(f"embed-text: {source} holds the raw string delimiter")
with open(output, "w", encoding="utf-8") as out:
    out.write(f"// Generated from {source.rsplit('/', 1)[-1]} by tools/embed-text.py; do not edit.\n")
    out.write("#pragma once\n\n")
    out.write(f"inline constexpr char {name}[] = R\"{delimiter}({text}){delimiter}\";\n")
