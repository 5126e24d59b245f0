"""age stages and keys: standard files both ways, clear refusals, and nothing damaged ever accepted."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from infra.tools import find_program, missing
from pyrage import x25519

from dflow_tui.core.errors import DflowError
from dflow_tui.pipeline import (
    AgeDecrypt,
    AgeEncrypt,
    DecryptionFailed,
    InvalidKey,
    Stage,
    Tap,
    WrongIdentity,
    load_identity,
    parse_recipient,
    parse_recipients,
    run_pipeline,
)

KiB = 1 << 10
MiB = 1 << 20
FINGERPRINT_RE = re.compile(r"^sha256:[0-9a-f]{16}$")


@dataclass(frozen=True)
class KeyPair:
    public: str
    private: str


def age_key() -> KeyPair:
    identity = x25519.Identity.generate()
    private = f"# created: by the tests\n# public key: {identity.to_public()}\n{identity}\n"
    return KeyPair(public=str(identity.to_public()), private=private)


def ssh_key(kind: str) -> KeyPair:
    private_key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if kind == "ssh-ed25519":
        private_key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "ssh-rsa":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        private_key = ec.generate_private_key(ec.SECP256R1())
    private = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return KeyPair(public=f"{public} someone@example", private=private)


@pytest.fixture(scope="module")
def keys() -> dict[str, KeyPair]:
    return {"age": age_key(), "ssh-ed25519": ssh_key("ssh-ed25519"), "ssh-rsa": ssh_key("ssh-rsa")}


@pytest.fixture(scope="module")
def age_program() -> Path:
    program = find_program("age")
    if program is None:
        missing("age (the command-line tool)", "apt-get install -y age")
    assert program is not None
    return program


async def run_stages(data: bytes, stages: Sequence[Stage], piece: int = 100 * KiB) -> bytes:
    pieces = iter([data[i : i + piece] for i in range(0, len(data), piece)])

    async def source() -> bytes:
        return next(pieces, b"")

    async def collect(stream: AsyncIterator[bytes]) -> bytes:
        out = bytearray()
        async for chunk in stream:
            out += chunk
        return bytes(out)

    return await run_pipeline(source, stages, collect)


async def run_tool(args: list[str], data: bytes) -> bytes:
    process = await asyncio.create_subprocess_exec(
        *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate(data)
    assert process.returncode == 0, err.decode()
    return out


def one_sentence(error: BaseException) -> str:
    message = str(error)
    assert message and "\n" not in message and "Traceback" not in message
    return message


# -- recipients -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["age", "ssh-ed25519", "ssh-rsa"])
def test_a_recipient_is_parsed_with_a_stable_fingerprint(keys: dict[str, KeyPair], kind: str) -> None:
    recipient = parse_recipient(keys[kind].public)
    assert recipient.kind == kind
    assert FINGERPRINT_RE.match(recipient.fingerprint)
    assert "someone@example" not in recipient.text, "the comment is not part of the key"
    comment = "" if kind == "age" else "  other comment"
    again = parse_recipient("  " + recipient.text.replace(" ", "   ") + comment + "\n")
    assert again == recipient and again.fingerprint == recipient.fingerprint


def test_fingerprints_differ_between_keys(keys: dict[str, KeyPair]) -> None:
    fingerprints = {parse_recipient(pair.public).fingerprint for pair in keys.values()}
    assert len(fingerprints) == len(keys)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("age1notavalidkey", "not a valid age X25519 public key"),
        ("age1yubikey1qwertyuiopasdfghjkl", "plugin keys"),
        ("hello world", "is not a public key"),
        ("ssh-ed25519 AAAAbroken", "not a valid ssh-ed25519 public key"),
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "cannot be age recipients"),
    ],
)
def test_a_bad_recipient_is_refused_in_one_sentence(text: str, expected: str) -> None:
    with pytest.raises(InvalidKey) as raised:
        parse_recipient(text)
    assert expected in one_sentence(raised.value)
    assert isinstance(raised.value, DflowError)


def test_private_keys_are_refused_as_recipients_without_repeating_them(keys: dict[str, KeyPair]) -> None:
    secret_line = keys["age"].private.strip().splitlines()[-1]
    for private in (secret_line, keys["ssh-ed25519"].private):
        with pytest.raises(InvalidKey, match="private key") as raised:
            parse_recipient(private)
        assert secret_line[20:] not in str(raised.value)


def test_ecdsa_keys_cannot_be_recipients() -> None:
    with pytest.raises(InvalidKey, match="ecdsa-sha2-nistp256 cannot be age recipients"):
        parse_recipient(ssh_key("ecdsa").public)


def test_a_recipients_file_skips_comments_and_repeats(keys: dict[str, KeyPair]) -> None:
    text = f"# team keys\n{keys['age'].public}\n\n{keys['ssh-ed25519'].public}\n{keys['age'].public}\n"
    assert [r.kind for r in parse_recipients(text)] == ["age", "ssh-ed25519"]


# -- identities -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["age", "ssh-ed25519", "ssh-rsa"])
def test_an_identity_has_the_fingerprint_of_its_recipient(keys: dict[str, KeyPair], kind: str) -> None:
    identity = load_identity(keys[kind].private)
    assert identity.fingerprints == (parse_recipient(keys[kind].public).fingerprint,)


def test_an_age_identity_file_may_hold_several_keys(keys: dict[str, KeyPair]) -> None:
    other = age_key()
    identity = load_identity(keys["age"].private + other.private)
    assert len(identity.natives) == 2
    assert identity.fingerprints[1] == parse_recipient(other.public).fingerprint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("# only a comment\n", "holds no key"),
        ("AGE-SECRET-KEY-1NOTAKEY", "Line 1 of the identity is not a valid age secret key"),
        ("# c\nsomething else", "Line 2 of the identity is not an age secret key"),
    ],
)
def test_a_bad_identity_is_refused_in_one_sentence(text: str, expected: str) -> None:
    with pytest.raises(InvalidKey) as raised:
        load_identity(text)
    assert expected in one_sentence(raised.value)


def test_a_public_key_given_as_identity_says_so(keys: dict[str, KeyPair]) -> None:
    with pytest.raises(InvalidKey, match="This is a public key"):
        load_identity(keys["age"].public)


def test_an_ecdsa_private_key_is_refused() -> None:
    with pytest.raises(InvalidKey, match="ecdsa-sha2-nistp256 cannot open age backups"):
        load_identity(ssh_key("ecdsa").private)


def test_a_passphrase_protected_ssh_key_is_refused(tmp_path: Path) -> None:
    keygen = find_program("ssh-keygen")
    if keygen is None:
        missing("ssh-keygen", "apt-get install -y openssh-client")
    assert keygen is not None
    subprocess.run(
        [str(keygen), "-q", "-t", "ed25519", "-N", "correct horse", "-f", str(tmp_path / "key")], check=True
    )
    with pytest.raises(InvalidKey, match="protected by a passphrase"):
        load_identity((tmp_path / "key").read_text())


# -- encrypting and decrypting ---------------------------------------------


@pytest.mark.parametrize("kind", ["age", "ssh-ed25519", "ssh-rsa"])
async def test_round_trip(keys: dict[str, KeyPair], kind: str) -> None:
    data = os.urandom(3 * MiB + 11)
    encrypted = await run_stages(data, [AgeEncrypt([parse_recipient(keys[kind].public)])])
    assert encrypted.startswith(b"age-encryption.org/v1\n")
    assert await run_stages(encrypted, [AgeDecrypt(load_identity(keys[kind].private))]) == data


async def test_every_recipient_can_open_it(keys: dict[str, KeyPair]) -> None:
    data = b"INSERT INTO t VALUES (1);\n" * 100_000
    encrypted = await run_stages(data, [AgeEncrypt([parse_recipient(pair.public) for pair in keys.values()])])
    for pair in keys.values():
        assert await run_stages(encrypted, [AgeDecrypt(load_identity(pair.private))]) == data


@pytest.mark.parametrize("kind", ["age", "ssh-ed25519", "ssh-rsa"])
async def test_the_standard_age_tool_decrypts_our_files(
    keys: dict[str, KeyPair], kind: str, age_program: Path, tmp_path: Path
) -> None:
    data = os.urandom(2 * MiB + 3)
    encrypted = await run_stages(data, [AgeEncrypt([parse_recipient(keys[kind].public)])])
    key_file = tmp_path / "key"
    key_file.write_text(keys[kind].private)
    key_file.chmod(0o600)
    assert await run_tool([str(age_program), "-d", "-i", str(key_file)], encrypted) == data


async def test_we_decrypt_the_standard_age_tools_files(keys: dict[str, KeyPair], age_program: Path) -> None:
    data = os.urandom(MiB + 5)
    encrypted = await run_tool([str(age_program), "-r", keys["age"].public], data)
    assert await run_stages(encrypted, [AgeDecrypt(load_identity(keys["age"].private))]) == data


async def test_no_recipient_no_encryption() -> None:
    with pytest.raises(InvalidKey, match="at least one recipient"):
        AgeEncrypt([])


# -- refusals ----------------------------------------------------------------


async def test_a_wrong_identity_names_who_it_is_for(keys: dict[str, KeyPair]) -> None:
    intended = [parse_recipient(keys["age"].public), parse_recipient(keys["ssh-ed25519"].public)]
    encrypted = await run_stages(os.urandom(200 * KiB), [AgeEncrypt(intended)])
    stranger = load_identity(age_key().private)

    with pytest.raises(WrongIdentity) as raised:
        await run_stages(encrypted, [AgeDecrypt(stranger)])
    message = one_sentence(raised.value)
    assert message.startswith("This backup is encrypted for 1 age key and the ssh-ed25519 key tagged ")
    assert f"the identity given ({stranger.fingerprints[0]}) does not match any of them" in message

    fingerprints = [recipient.fingerprint for recipient in intended]
    with pytest.raises(WrongIdentity) as raised:
        await run_stages(encrypted, [AgeDecrypt(stranger, encrypted_for=fingerprints)])
    assert one_sentence(raised.value).startswith(f"This backup is encrypted for {', '.join(fingerprints)};")


async def test_a_wrong_identity_gives_no_output(keys: dict[str, KeyPair]) -> None:
    encrypted = await run_stages(os.urandom(MiB), [AgeEncrypt([parse_recipient(keys["age"].public)])])
    received = 0
    pieces = iter([encrypted])

    async def source() -> bytes:
        return next(pieces, b"")

    async def sink(stream: AsyncIterator[bytes]) -> None:
        nonlocal received
        async for chunk in stream:
            received += len(chunk)

    with pytest.raises(WrongIdentity):
        await run_pipeline(source, [AgeDecrypt(load_identity(keys["ssh-rsa"].private))], sink)
    assert received == 0


@pytest.mark.parametrize("where", ["payload", "last byte", "header mac"])
async def test_tampered_ciphertext_is_refused(keys: dict[str, KeyPair], where: str) -> None:
    encrypted = bytearray(
        await run_stages(os.urandom(MiB), [AgeEncrypt([parse_recipient(keys["age"].public)])])
    )
    header_end = encrypted.index(b"\n--- ") + 10
    position = {"payload": len(encrypted) // 2, "last byte": len(encrypted) - 1, "header mac": header_end}[
        where
    ]
    encrypted[position] ^= 0x01
    sink_saw_end = False
    pieces = iter([bytes(encrypted[i : i + 64 * KiB]) for i in range(0, len(encrypted), 64 * KiB)])

    async def source() -> bytes:
        return next(pieces, b"")

    async def sink(stream: AsyncIterator[bytes]) -> None:
        nonlocal sink_saw_end
        async for _ in stream:
            pass
        sink_saw_end = True

    with pytest.raises(DecryptionFailed) as raised:
        await run_pipeline(source, [AgeDecrypt(load_identity(keys["age"].private)), Tap()], sink)
    one_sentence(raised.value)
    assert not sink_saw_end, "a refused decryption never looks complete downstream"


@pytest.mark.parametrize("cut", [10, 200, 100 * KiB, -1])
async def test_truncated_or_extended_ciphertext_is_refused(keys: dict[str, KeyPair], cut: int) -> None:
    encrypted = await run_stages(os.urandom(300 * KiB), [AgeEncrypt([parse_recipient(keys["age"].public)])])
    damaged = encrypted[:cut] if cut > 0 else encrypted + b"trailing"
    with pytest.raises(DecryptionFailed):
        await run_stages(damaged, [AgeDecrypt(load_identity(keys["age"].private))])


async def test_something_that_is_not_age_is_refused(keys: dict[str, KeyPair]) -> None:
    identity = load_identity(keys["age"].private)
    for data in (b"", b"PGDMP" + os.urandom(5000), b"age-encryption.org/v1\n-> X25519 broken\n"):
        with pytest.raises(DecryptionFailed, match="not an age-encrypted file"):
            await run_stages(data, [AgeDecrypt(identity)])
