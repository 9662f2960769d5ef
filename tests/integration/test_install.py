"""`meson install` puts everything where a packager expects it: the binary, both man pages, the
agent script beside its plist template, the systemd user unit pointing at the installed binary,
the schema and the example config. Installed into a scratch --destdir; nothing else is touched."""

import os
import subprocess

from conftest import BUILD

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
