"""``bconnect users ...`` against a real SQLite database in tmp."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3

import pytest

from core.testing.app import running_app
from core.cli import main
from core.config import load_file
from core.testing.pytest_plugin import bconnect


@pytest.fixture
def deployment(make_deployment):
    return make_deployment()


def run(capsys, *args: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def users_in(db) -> dict[str, tuple]:
    rows = sqlite3.connect(db).execute("SELECT username, role, agency, disabled, password_hash FROM users").fetchall()
    return {r[0]: r[1:] for r in rows}


def test_add_list_passwd_disable_token(deployment, capsys, monkeypatch):
    cfg = ["--config", str(deployment.path)]
    db = deployment.data_dir / "bconnect.db"

    code, out, err = run(capsys, "users", "add", "budi", "--role", "operator", "--agency", "dishub", *cfg)
    assert code == 0, err
    assert out.splitlines()[0] == "created user budi (role operator, agency dishub)"
    generated = out.splitlines()[1].removeprefix("password: ")
    assert len(generated) >= 16

    code, out, err = run(
        capsys, "users", "add", "sari", "--role", "officer", "--agency", "polri", "--password-stdin", *cfg,
        stdin="sari-secret-99\n", monkeypatch=monkeypatch,
    )
    assert code == 0 and "password" not in out
    rows = users_in(db)
    assert rows["budi"][:3] == ("operator", "dishub", 0) and rows["sari"][:3] == ("officer", "polri", 0)
    assert rows["budi"][3].startswith("$argon2id$") and generated not in rows["budi"][3]

    code, out, _ = run(capsys, "users", "list", "--json", *cfg)
    listed = json.loads(out)
    assert [(u["username"], u["role"], u["agency"], u["disabled"]) for u in listed] == [
        ("budi", "operator", "dishub", False),
        ("sari", "officer", "polri", False),
    ]
    code, out, _ = run(capsys, "users", "list", *cfg)
    assert code == 0 and out.splitlines()[0].split() == ["USERNAME", "ROLE", "AGENCY", "STATUS", "LAST", "LOGIN"]
    assert "sari" in out and "active" in out

    code, out, _ = run(capsys, "users", "token", "sari", "--name", "etle-bridge", *cfg)
    assert code == 0
    token = out.strip()
    assert token.startswith("bct_") and len(out.splitlines()) == 1

    code, out, _ = run(capsys, "users", "passwd", "budi", "--password-stdin", *cfg, stdin="budi-new-pass-1\n", monkeypatch=monkeypatch)
    assert code == 0 and "budi-new-pass-1" not in out
    code, out, _ = run(capsys, "users", "disable", "sari", *cfg)
    assert code == 0 and users_in(db)["sari"][2] == 1

    # what the CLI did holds in the app: new password works, old does not, sari's token is dead
    async def check():
        async with running_app(load_file(deployment.path)) as (app, client):
            ok = await client.post("/api/login", json={"username": "budi", "password": "budi-new-pass-1"})
            old = await client.post("/api/login", json={"username": "budi", "password": generated})
            me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
            return ok.status_code, old.status_code, me.status_code

    assert asyncio.run(check()) == (200, 401, 401)

    audit = [r[0] for r in sqlite3.connect(db).execute("SELECT action FROM audit_log ORDER BY id")]
    assert audit[:5] == ["user.create", "user.create", "token.create", "user.passwd", "user.disable"]


def test_revoked_token_stops_working_for_good(deployment, capsys):
    cfg = ["--config", str(deployment.path)]
    assert run(capsys, "users", "add", "budi", "--role", "operator", "--agency", "dishub", *cfg)[0] == 0
    code, out, _ = run(capsys, "users", "token", "budi", "--name", "leaked", *cfg)
    leaked = out.strip()
    code, out, _ = run(capsys, "users", "revoke", "budi", "--name", "leaked", *cfg)
    assert code == 0 and out.strip() == "token 'leaked' of budi revoked"
    code, _, err = run(capsys, "users", "revoke", "budi", "--name", "leaked", *cfg)
    assert code == 1 and err.strip() == "error: user 'budi' has no token named 'leaked'"
    # disabling and enabling the user does not bring it back (it would for a token only paused)
    assert run(capsys, "users", "disable", "budi", *cfg)[0] == 0 and run(capsys, "users", "enable", "budi", *cfg)[0] == 0

    async def check():
        async with running_app(load_file(deployment.path)) as (app, client):
            return (await client.get("/api/me", headers={"Authorization": f"Bearer {leaked}"})).status_code

    assert asyncio.run(check()) == 401
    audit = [r[0] for r in sqlite3.connect(deployment.data_dir / "bconnect.db").execute("SELECT action FROM audit_log ORDER BY id")]
    assert audit == ["user.create", "token.create", "token.revoke", "user.disable", "user.enable"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "admin2", "--role", "king", "--agency", "pemkot"], "unknown role 'king'"),
        (["add", "admin2", "--role", "admin", "--agency", "bpn"], "unknown agency 'bpn'"),
        # an agency is one the deployment declares in [agencies], not one the code knows
        (["add", "admin2", "--role", "admin", "--agency", "bpn"], "[agencies] declare: dishub, kejaksaan, pemkot, polri"),
        (["add", "Bad Name", "--role", "admin", "--agency", "pemkot"], "invalid username"),
        (["passwd", "ghost"], "no user named 'ghost'"),
        (["disable", "ghost"], "no user named 'ghost'"),
        (["token", "ghost", "--name", "x"], "no user named 'ghost'"),
        (["revoke", "ghost", "--name", "x"], "no user named 'ghost'"),
    ],
)
def test_mistakes_are_one_line_errors(deployment, capsys, args, message):
    code, out, err = run(capsys, "users", *args, "--config", str(deployment.path))
    assert code == 1
    assert err.strip().count("\n") == 0 and err.startswith("error: ") and message in err


def test_duplicates_and_short_passwords_are_refused(deployment, capsys, monkeypatch):
    cfg = ["--config", str(deployment.path)]
    assert run(capsys, "users", "add", "budi", "--role", "viewer", "--agency", "dishub", *cfg)[0] == 0
    code, _, err = run(capsys, "users", "add", "budi", "--role", "viewer", "--agency", "dishub", *cfg)
    assert code == 1 and err == "error: user 'budi' already exists\n"
    assert run(capsys, "users", "token", "budi", "--name", "wall", *cfg)[0] == 0
    code, _, err = run(capsys, "users", "token", "budi", "--name", "wall", *cfg)
    assert code == 1 and "already has a token named 'wall'" in err
    code, _, err = run(capsys, "users", "passwd", "budi", "--password-stdin", *cfg, stdin="short\n", monkeypatch=monkeypatch)
    assert code == 1 and "password too short" in err


def test_data_dir_flag_and_environment_choose_the_database(deployment, tmp_path, capsys, monkeypatch):
    other = tmp_path / "elsewhere"
    code, _, _ = run(capsys, "users", "add", "budi", "--role", "viewer", "--agency", "dishub",
                     "--config", str(deployment.path), "--data-dir", str(other))
    assert code == 0 and "budi" in users_in(other / "bconnect.db")
    assert not (deployment.data_dir / "bconnect.db").exists()

    env_dir = tmp_path / "from-env"
    monkeypatch.setenv("BCONNECT_DATA_DIR", str(env_dir))
    code, _, _ = run(capsys, "users", "add", "sari", "--role", "viewer", "--agency", "polri", "--config", str(deployment.path))
    assert code == 0 and "sari" in users_in(env_dir / "bconnect.db")


def test_the_installed_command_exits_non_zero_with_one_line(deployment):
    ok = bconnect("users", "add", "budi", "--role", "viewer", "--agency", "dishub", "--config", str(deployment.path))
    assert ok.returncode == 0 and ok.stdout.startswith("created user budi")
    bad = bconnect("users", "disable", "ghost", "--config", str(deployment.path))
    assert bad.returncode == 1 and bad.stderr == "error: no user named 'ghost'\n"
    missing = bconnect("users", "list", "--config", str(deployment.path.with_name("nope.toml")))
    assert missing.returncode != 0 and "nope.toml" in missing.stderr and "Traceback" not in missing.stderr
