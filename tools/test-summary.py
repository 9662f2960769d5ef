#!/usr/bin/env python3
"""Counts test cases in JUnit XML files (doctest and pytest write them) and
prints the closing line CI reads: `N passed, N failed, N skipped`.
Exit status 1 when anything failed or no test ran at all."""

import sys
import xml.etree.ElementTree as ET


def count(paths):
    passed = failed = skipped = 0
    failures = []
    for path in paths:
        for case in ET.parse(path).getroot().iter("testcase"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            problem = case.find("failure")
            if problem is None:
                problem = case.find("error")
            if problem is not None:
                failed += 1
                detail = (problem.get("message") or "") + "\n" + (problem.text or "")
                failures.append(f"{name}\n    " + detail.strip()[:600].replace("\n", "\n    "))
            elif case.find("skipped") is not None or case.get("status") == "skipped":
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped, failures


def main():
    passed, failed, skipped, failures = count(sys.argv[1:])
    for name in failures:
        print(f"FAILED {name}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
