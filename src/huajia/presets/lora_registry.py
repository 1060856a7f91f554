"""Registering LoRA files at run time: from an allowed folder or an upload, checked first.

A LoRA is accepted only when every module it was trained for exists in the served model
(checked from the files' headers, so the API never imports torch). Its identity is its
content hash: re-registering a changed file under the same name is a new identity, so the
result cache and the workers never mix versions.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from huajia.auth.keys import Principal
from huajia.engine.lora_fit import check_fit, model_modules
from huajia.errors import (
    AlreadyExists,
    InvalidRequest,
    LoraMisfit,
    ModelFileRejected,
    PathNotAllowed,
)
from huajia.jobs.lora_store import LoraRecord
from huajia.jobs.store import TaskStore
from huajia.presets.model import NAME_PATTERN

log = logging.getLogger(__name__)
SUFFIX = ".safetensors"
_CHUNK = 1 << 20


def content_identity(path: Path) -> str:
    """The file's SHA-256: the LoRA's identity in cache keys and on workers."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


class LoraRegistry:
    """Checks, records and retires LoRAs; every change goes to the audit trail."""

    def __init__(self, store: TaskStore, model_source: str, folders: Sequence[Path],
                 allow_partial: bool = False) -> None:  # fmt: skip
        self.store = store
        self.model_source = model_source
        self.folders = [folder.resolve() for folder in folders]
        self.allow_partial = allow_partial

    def identities(self) -> dict[str, str]:
        """Active LoRAs by name -> identity (one query; read per request)."""
        return {record.name: record.identity for record in self.store.loras.list()}

    def register_path(self, who: Principal, name: str, path_text: str) -> LoraRecord:
        """A file already in an allowed folder."""
        self._check_free(name)
        path = self._allowed(path_text)
        return self._register(who, name, path)

    def register_upload(self, who: Principal, name: str, upload: IO[bytes]) -> LoraRecord:
        """An uploaded file, saved in the first allowed folder once it passes the check."""
        self._check_free(name)
        folder = self.folders[0]
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as part:
            shutil.copyfileobj(upload, part, _CHUNK)
        staged = Path(part.name)
        try:
            identity = content_identity(staged)
            final = folder / f"{name}-{identity.removeprefix('sha256:')[:12]}{SUFFIX}"
            self._check(name, staged)
            staged.replace(final)
        finally:
            staged.unlink(missing_ok=True)
        return self._register(who, name, final)

    def retire(self, who: Principal, name: str) -> LoraRecord:
        record = self.store.loras.retire(name)
        self.store.audit(who.key_id, who.name, "lora.retire", name, {"identity": record.identity})
        return record

    def seed(self, configured: dict[str, Path]) -> None:
        """Settings' LoRAs are registered as they are (their check is the worker's load)."""
        for name, path in configured.items():
            try:
                report = self._check(name, path)
            except ModelFileRejected as error:
                log.warning("configured LoRA %s not checked here: %s", name, error.message)
                report = {"name": name, "path": str(path), "checked": False}
            self.store.loras.seed(name, str(path), content_identity(path), report)

    def refresh(self, who: Principal) -> tuple[list[str], dict[str, str]]:
        """Re-read every registered LoRA file: one whose bytes changed gets its new identity
        once it passes the check again (workers then reload it); one that no longer passes
        keeps its old identity, so workers keep the adapter they hold. Returns the names
        changed and, for those refused, why."""
        changed: list[str] = []
        refused: dict[str, str] = {}
        for record in self.store.loras.list():
            path = Path(record.path)
            try:
                identity = content_identity(path)
                if identity == record.identity:
                    continue
                report = self._check(record.name, path)
            except (OSError, ModelFileRejected) as error:
                refused[record.name] = getattr(error, "message", None) or type(error).__name__
                continue
            self.store.loras.seed(record.name, record.path, identity, report)
            facts = {"identity": identity, "was": record.identity}
            self.store.audit(who.key_id, who.name, "lora.refresh", record.name, facts)
            changed.append(record.name)
        return changed, refused

    def _register(self, who: Principal, name: str, path: Path) -> LoraRecord:
        report = self._check(name, path)
        record = self.store.loras.register(name, str(path), content_identity(path), report)
        facts = {"identity": record.identity, "modules_applied": report["modules_applied"]}
        self.store.audit(who.key_id, who.name, "lora.register", name, facts)
        return record

    def _check_free(self, name: str) -> None:
        _check_name(name)
        before = self.store.loras.get(name)
        if before is not None and not before.retired:
            raise AlreadyExists(f"a LoRA named {name!r} is registered; retire it first")

    def _check(self, name: str, path: Path) -> dict[str, object]:
        checked = check_fit(name, path, model_modules(self.model_source))
        report = checked.summary()
        if checked.applied == 0:
            raise LoraMisfit(f"LoRA {name!r} applies to none of this model's layers", report)
        if checked.not_applied and not self.allow_partial:
            raise LoraMisfit(
                f"LoRA {name!r} applies to only {checked.applied} of the {checked.targeted} "
                "layers it was trained for (see report.not_applied); convert it to diffusers "
                "names, or set lora_allow_partial",
                report,
            )
        return report

    def _allowed(self, path_text: str) -> Path:
        """The file, inside an allowed folder; messages name it within its folder, never by
        the server's path, and nothing outside the folders is looked at (not even whether
        it exists)."""
        try:
            path = Path(path_text).expanduser().resolve()
        except (ValueError, OSError, RuntimeError):  # a NUL, a symlink loop
            raise PathNotAllowed("the path is not a usable file path") from None
        folder = next((each for each in self.folders if path.is_relative_to(each)), None)
        if folder is None:
            raise PathNotAllowed(
                "LoRA files must be inside one of the server's lora_dirs folders: put the "
                "file there and give its path"
            )
        shown = path.relative_to(folder).as_posix()
        if path.suffix != SUFFIX:
            raise PathNotAllowed(f"a LoRA is a {SUFFIX} file, not {shown!r}")
        if not path.is_file():
            raise PathNotAllowed(f"no file {shown!r} in the lora_dirs folder")
        return path


def _check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidRequest(f"LoRA name {name!r}: use 1-64 lowercase letters, digits, '-' or '_'")
