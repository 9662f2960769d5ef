"""`meson install` puts everything where a packager expects it: the binary, both man pages, the
agent script beside its plist template, the systemd user unit pointing at the installed binary,
the schema and the example config. Installed into a scratch --destdir; nothing else is touched."""

import os
import subprocess

from conftest import BUILD, REPO

EXPECTED = {
    "bin/loopgate",
    "share/man/man8/loopgate.8",
    "share/man/man5/loopgate.jsonc.5",
    "share/loopgate/loopgate-agent.sh",
    "share/loopgate/com.loopgate.agent.plist.in",
    "share/loopgate/loopgate.schema.json",
    "share/loopgate/loopgate.example.jsonc",
    "lib/systemd/user/loopgate.service",
    "lib/systemd/user/loopgate.socket",
}


def test_meson_install_layout(tmp_path):
    prefix = subprocess.run(["meson", "introspect", str(BUILD), "--buildoptions"], capture_output=True, text=True,
                            check=True).stdout
    import json
    options = {o["name"]: o["value"] for o in json.loads(prefix)}
    done = subprocess.run(["meson", "install", "-C", str(BUILD), "--destdir", str(tmp_path), "--no-rebuild",
                           "--quiet"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    root = tmp_path / options["prefix"].lstrip("/")
    installed = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert EXPECTED <= installed, f"missing: {sorted(EXPECTED - installed)}"

    assert os.access(root / "bin/loopgate", os.X_OK)
    assert os.access(root / "share/loopgate/loopgate-agent.sh", os.X_OK)
    unit = (root / "lib/systemd/user/loopgate.service").read_text()
    assert f"ExecStart={options['prefix']}/{options['bindir']}/loopgate run --config" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    # The man pages are well-formed roff: man renders them without a warning.
    for page in ("share/man/man8/loopgate.8", "share/man/man5/loopgate.jsonc.5"):
        rendered = subprocess.run(["man", "--warnings", "-l", str(root / page)], capture_output=True, text=True,
                                  env={**os.environ, "MANWIDTH": "100", "PAGER": "cat"}, timeout=30)
        assert rendered.returncode == 0 and rendered.stderr == "", rendered.stderr
        assert "EXIT STATUS" in rendered.stdout or "loopgate" in rendered.stdout
    # The installed binary runs and is the one built.
    version = subprocess.run([str(root / "bin/loopgate"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("loopgate ")


def test_homebrew_formula_names_a_tarball_that_configures_and_its_own_test_passes(tmp_path):
    """packaging/homebrew/make-formula.sh: the formula's sha256 is the tarball's, the tarball
    holds every file the build lists (meson setup checks each one), the formula is valid Ruby, it
    has a service block, and the check its `test do` block runs passes with the real binary."""
    import hashlib
    import re
    import shutil
    import tarfile
    from conftest import LOOPGATE_BIN
    repo = REPO
    made = subprocess.run([str(repo / "packaging/homebrew/make-formula.sh"), "--out", str(tmp_path / "brew")],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    formula_path = made.stdout.strip().splitlines()[-1]
    formula = open(formula_path).read()
    version = re.search(r"^\s*version\s*:\s*'([^']+)'", (repo / "meson.build").read_text(), re.M).group(1)
    tarball = tmp_path / "brew" / f"loopgate-{version}.tar.xz"
    assert f'url "file://{tarball}"' in formula
    assert f'sha256 "{hashlib.sha256(tarball.read_bytes()).hexdigest()}"' in formula
    assert re.search(r'service do\n\s+run \[opt_bin/"loopgate", "run"\]\n\s+keep_alive true', formula)

    assert shutil.which("ruby"), "ruby is needed to check the formula (tools/install-deps.sh installs it)"
    syntax = subprocess.run(["ruby", "-c", formula_path], capture_output=True, text=True, timeout=60)
    assert syntax.returncode == 0 and "Syntax OK" in syntax.stdout, syntax.stderr

    with tarfile.open(tarball) as archive:
        archive.extractall(tmp_path / "src")
    source = tmp_path / "src" / f"loopgate-{version}"
    setup = subprocess.run(["meson", "setup", str(tmp_path / "src-build"), str(source)], capture_output=True,
                           text=True, timeout=300)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]

    config = re.search(r'\(testpath/"loopgate.jsonc"\).write <<~EOS\n(.*?)\n\s*EOS', formula, re.S).group(1)
    (tmp_path / "loopgate.jsonc").write_text(config)
    check = subprocess.run([LOOPGATE_BIN, "check", "--config", str(tmp_path / "loopgate.jsonc")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and "ok (1 route)" in check.stdout, check.stdout + check.stderr
