#!/usr/bin/env python3
"""Prepares one run's JUnit XML for tools/test-summary.py.

    junit-mark.py FILE PREFIX EXIT_STATUS NAME

Prefixes every test case's class name with PREFIX (so "asan.test_relay" is
told apart from the normal build's "test_relay"), and makes sure a run that
exited non-zero counts as a failure even when its XML does not say so: a
sanitizer that halts the process cuts the file short or never lets it be
written, and a leak report comes after a test binary wrote "all passed"."""

import sys
import xml.etree.ElementTree as ET


def load(path):
    try:
        return ET.parse(path)
    except (OSError, ET.ParseError):
        return None


def has_failure(root):
    return any(case.find("failure") is not None or case.find("error") is not None for case in root.iter("testcase"))


def main():
    path, prefix, status, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    tree = load(path)
    if tree is None:
        tree = ET.ElementTree(ET.Element("testsuites"))
    root = tree.getroot()
    for case in root.iter("testcase"):
        case.set("classname", f"{prefix}.{case.get('classname') or name}")
    if status != 0 and not has_failure(root):
        suite = root if root.tag == "testsuite" else ET.SubElement(root, "testsuite", name=prefix)
        case = ET.SubElement(suite, "testcase", classname=prefix, name=f"{name} exit status")
        failure = ET.SubElement(case, "failure", message=f"{name} exited with status {status}")
        failure.text = "The output above has the details (sanitizers print their reports to stderr)."
    tree.write(path, encoding="unicode")


if __name__ == "__main__":
    main()
