"""Every bad input gets one line naming file, line, section and key — and creates nothing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import requests

from tests.conftest import run_sclust
from tests.test_cli_roundtrip import cluster_resources

GOOD = """\
[global]
DEFAULT_TEMPLATE = small

[key mykey]
KEY_LOCATION = {key}

[cluster base]
KEYNAME = mykey
NODE_IMAGE_ID = ami-12345678
NODE_INSTANCE_TYPE = t3.medium

[cluster small]
EXTENDS = base
CLUSTER_SIZE = 2
PERMISSIONS = web

[permission web]
IP_PROTOCOL = tcp
FROM_PORT = 80
TO_PORT = 80
CIDR_IP = 0.0.0.0/0
"""

# (case, text to replace, replacement, expected line number, expected message fragment)
CASES = [
    ("unknown section", "[permission web]", "[permision web]", 17,
     "unknown section [permision web] (did you mean 'permission'?)"),
    ("unknown key", "CLUSTER_SIZE = 2", "CLUSTER_SZE = 2", 14,
     "[cluster small] CLUSTER_SZE: unknown key (did you mean 'CLUSTER_SIZE'?)"),
    ("missing required key", "CLUSTER_SIZE = 2\n", "", 12,
     "[cluster small] CLUSTER_SIZE: required key missing"),
    ("non-integer size", "CLUSTER_SIZE = 2", "CLUSTER_SIZE = two", 14,
     "[cluster small] CLUSTER_SIZE: 'two' is not an integer"),
    ("size below one", "CLUSTER_SIZE = 2", "CLUSTER_SIZE = 0", 14,
     "[cluster small] CLUSTER_SIZE: 0 is less than 1"),
    ("bad cidr", "CIDR_IP = 0.0.0.0/0", "CIDR_IP = 10.0.0.0/33", 21,
     "[permission web] CIDR_IP: '10.0.0.0/33' is not a valid CIDR block"),
    ("port out of range", "TO_PORT = 80", "TO_PORT = 70000", 20,
     "[permission web] TO_PORT: 70000 is more than 65535"),
    ("from above to", "FROM_PORT = 80", "FROM_PORT = 8080", 20,
     "[permission web] TO_PORT: 80 is below FROM_PORT 8080"),
    ("unknown protocol", "IP_PROTOCOL = tcp", "IP_PROTOCOL = tcpp", 18,
     "[permission web] IP_PROTOCOL: unknown protocol 'tcpp'"),
    ("spot bid not positive", "CLUSTER_SIZE = 2", "CLUSTER_SIZE = 2\nSPOT_BID = 0", 15,
     "[cluster small] SPOT_BID: 0 must be greater than 0"),
    ("undefined key section", "KEYNAME = mykey", "KEYNAME = mykee", 8,
     "[cluster base] KEYNAME: no [key mykee] (did you mean 'mykey'?)"),
    ("undefined permission", "PERMISSIONS = web", "PERMISSIONS = wbe", 15,
     "[cluster small] PERMISSIONS: no [permission wbe] (did you mean 'web'?)"),
    ("undefined volume", "PERMISSIONS = web", "PERMISSIONS = web\nVOLUMES = data", 16,
     "[cluster small] VOLUMES: no [volume data]"),
    ("undefined plugin", "PERMISSIONS = web", "PERMISSIONS = web\nPLUGINS = sge", 16,
     "[cluster small] PLUGINS: no [plugin sge]"),
    ("extends cycle", "NODE_INSTANCE_TYPE = t3.medium",
     "NODE_INSTANCE_TYPE = t3.medium\nEXTENDS = small", 14,
     "[cluster small] EXTENDS: EXTENDS cycle: small -> base -> small"),
    ("missing parent", "EXTENDS = base", "EXTENDS = bsae", 13,
     "[cluster small] EXTENDS: no [cluster bsae] to extend (did you mean 'base'?)"),
    ("bad default template", "DEFAULT_TEMPLATE = small", "DEFAULT_TEMPLATE = smal", 2,
     "[global] DEFAULT_TEMPLATE: no [cluster smal] section (did you mean 'small'?)"),
    ("bad boolean", "CLUSTER_SIZE = 2", "CLUSTER_SIZE = 2\nDNS_PREFIX = maybe", 15,
     "[cluster small] DNS_PREFIX: 'maybe' is not a boolean"),
    ("bad instance type", "NODE_INSTANCE_TYPE = t3.medium", "NODE_INSTANCE_TYPE = t3 medium", 10,
     "[cluster base] NODE_INSTANCE_TYPE: 't3 medium' is not an instance type"),
]


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.mark.parametrize("case,old,new,line,message", CASES, ids=[c[0] for c in CASES])
def test_bad_config_is_one_clear_line_and_creates_nothing(
    endpoint: str, tmp_path: Path, key_file: Path,
    case: str, old: str, new: str, line: int, message: str,
) -> None:
    text = GOOD.format(key=key_file)
    assert old in text, case
    config = tmp_path / "config"
    config.write_text(text.replace(old, new, 1))
    result = run_sclust("-c", str(config), "start", "broken", "-o")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"sclust: error: {config}:{line}: {message}"] or (
        len(lines) == 1 and lines[0].startswith(f"sclust: error: {config}:{line}: ")
        and message in lines[0]
    ), result.stderr
    assert cluster_resources(endpoint, "broken") == {
        "instances": [], "groups": [], "spot_requests": []}


def test_missing_key_file_is_reported_at_key_location(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(GOOD.format(key=tmp_path / "absent.pem"))
    result = run_sclust("-c", str(config), "validate", "small")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"sclust: error: {config}:5: [key mykey] KEY_LOCATION: key file "
        f"'{tmp_path / 'absent.pem'}' does not exist")


def test_key_file_readable_by_others_is_refused(tmp_path: Path, key_file: Path) -> None:
    key_file.chmod(0o644)
    config = tmp_path / "config"
    config.write_text(GOOD.format(key=key_file))
    result = run_sclust("-c", str(config), "validate")
    assert result.returncode == 1
    assert "readable by others (mode 0644); run: chmod 600" in result.stderr
    assert f"{config}:5: [key mykey] KEY_LOCATION" in result.stderr


def test_several_mistakes_are_all_reported(tmp_path: Path, key_file: Path) -> None:
    config = tmp_path / "config"
    text = GOOD.format(key=key_file).replace("TO_PORT = 80", "TO_PORT = x").replace(
        "CLUSTER_SIZE = 2", "CLUSTER_SIZE = 2\nFOO = 1")
    config.write_text(text)
    result = run_sclust("-c", str(config), "validate")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert all(line.startswith(f"sclust: error: {config}:") for line in lines)


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(textwrap.dedent("""\
        [global]
        just some words
        """))
    result = run_sclust("-c", str(config), "validate")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"sclust: error: {config}:2 in [global]: expected 'KEY = value', got 'just some words'")
