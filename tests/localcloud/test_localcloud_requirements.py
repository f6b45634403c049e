"""`up` names what is missing; the test helper turns a skip into a failure in CI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def as_unprivileged(argv: list[str], env: dict[str, str] | None = None):
    """Run in a user namespace without privileges (euid is the overflow uid, not 0)."""
    if subprocess.run(["unshare", "--user", "true"], capture_output=True).returncode != 0:
        pytest.skip("user namespaces unavailable")
    return subprocess.run(["unshare", "--user", *argv], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def test_missing_root_is_named_in_one_line():
    program = textwrap.dedent("""\
        from sclust.localcloud.control import up
        try:
            up()
        except Exception as e:
            print(type(e).__name__, e)
        """)
    proc = as_unprivileged([sys.executable, "-c", program])
    line = proc.stdout.strip()
    assert line.startswith("RequirementMissing the local cloud needs root"), proc
    assert "\n" not in line


@pytest.mark.parametrize("required, outcome", [("1", "1 failed"), ("", "1 skipped")])
def test_require_local_cloud_turns_skip_into_failure(tmp_path, required, outcome):
    test = tmp_path / "test_probe.py"
    test.write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from conftest import require_local_cloud

        def test_probe():
            require_local_cloud()
        """))
    proc = as_unprivileged([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "--rootdir", str(tmp_path), str(test)],
                           env={"SCLUST_REQUIRE_LOCAL_CLOUD": required})
    assert outcome in proc.stdout, proc.stdout + proc.stderr
