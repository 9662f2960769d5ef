#!/usr/bin/env python3
"""Counts test cases in JUnit XML files (doctest and pytest write them) and
prints the closing line CI reads: `N passed, N failed, N skipped`.
Exit status 1 when anything failed or no test ran at all."""

import sys
import xml.etree.ElementTree as ET


def outcome(case):
    """("failed", detail), ("skipped", "") or ("passed", "") for one <testcase>."""
    problem = case.find("failure")
    if problem is None:
        problem = case.find("error")
    if problem is not None:
        return "failed", (problem.get("message") or "") + "\n" + (problem.text or "")
    if case.find("skipped") is not None or case.get("status") == "skipped":
        return "skipped", ""
    return "passed", ""


def count(paths):
    # pytest writes a second <testcase> for a test whose teardown errs after
    # the test failed; one test is one count, failed if any part failed.
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    results = {}
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as error:
            # A result file we cannot read is a failure, never a silent pass.
            results[f"{path}::(results file)"] = ("failed", f"unreadable results: {error}")
            continue
        for case in root.iter("testcase"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            result = outcome(case)
            if name not in results or rank[result[0]] > rank[results[name][0]]:
                results[name] = result
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    failures = []
    for name, (kind, detail) in results.items():
        totals[kind] += 1
        if kind == "failed":
            failures.append(f"{name}\n    " + detail.strip()[:600].replace("\n", "\n    "))
    return totals["passed"], totals["failed"], totals["skipped"], failures


def main():
    passed, failed, skipped, failures = count(sys.argv[1:])
    for name in failures:
        print(f"FAILED {name}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
