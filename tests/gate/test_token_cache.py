"""The verified-token memory of `tokens.verify`: a link opened again is not verified again, and nothing the memory
keeps outlives what made it true (the key, the issuer, the clock, the gate's documents)."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterator, Mapping

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from generator.gate import tokens
from generator.gate.refusals import ExpiredLink, InvalidLink

ISSUER = "https://trust.example.com"
DOCUMENTS = frozenset({"soc2-type2"})
LIFETIME = dt.timedelta(days=30)


@pytest.fixture(autouse=True)
def empty_memory() -> Iterator[None]:
    tokens._verified.clear()
    yield
    tokens._verified.clear()


def minted(key: Ed25519PrivateKey, *, kid: str = "sales", days: float = 7, issuer: str = ISSUER) -> str:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    link = tokens.Link(tokens.new_link_id(), "soc2-type2", "alice@customer.test", "Customer Inc", now,
                       now + dt.timedelta(days=days), 3, False)
    return tokens.mint(link, private_key=key, kid=kid, issuer=issuer)


def verify(token: str, keys: Mapping[str, Ed25519PublicKey], *, documents: frozenset[str] = DOCUMENTS,
           issuer: str = ISSUER) -> tokens.Link:
    return tokens.verify(token, keys=keys, issuer=issuer, gated_documents=documents, max_lifetime=LIFETIME)


def no_second_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> tokens.Link:
        raise AssertionError("the token was verified again")

    monkeypatch.setattr(tokens, "_verify_signed", refuse)


def test_a_token_verified_once_is_answered_from_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Ed25519PrivateKey.generate()
    keys = {"sales": key.public_key()}
    token = minted(key)
    first = verify(token, keys)
    no_second_verification(monkeypatch)
    assert verify(token, keys) == first


def test_a_forged_token_is_never_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    forged = minted(other)  # kid "sales", signed by a key that is not the trusted "sales" key
    keys = {"sales": key.public_key()}
    for _ in range(2):
        with pytest.raises(InvalidLink):
            verify(forged, keys)
    assert tokens._verified.get(forged, keys, ISSUER, tokens.LEEWAY_SECONDS) is None


def test_a_key_replaced_under_its_kid_is_asked_again() -> None:
    """trust/keys/ reloaded with another key under the same kid: what the old key verified is verified anew."""
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    token = minted(old)
    verify(token, {"sales": old.public_key()})
    with pytest.raises(InvalidLink):
        verify(token, {"sales": new.public_key()})


def test_a_key_removed_refuses_what_it_verified() -> None:
    key = Ed25519PrivateKey.generate()
    token = minted(key)
    verify(token, {"sales": key.public_key()})
    with pytest.raises(InvalidLink, match="unknown key id"):
        verify(token, {"other": key.public_key()})


def test_another_issuer_is_asked_again() -> None:
    key = Ed25519PrivateKey.generate()
    keys = {"sales": key.public_key()}
    token = minted(key)
    verify(token, keys)
    with pytest.raises(InvalidLink):
        verify(token, keys, issuer="https://elsewhere.example.com")


def test_a_document_no_longer_gated_is_refused_from_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Ed25519PrivateKey.generate()
    keys = {"sales": key.public_key()}
    token = minted(key)
    verify(token, keys)
    no_second_verification(monkeypatch)
    with pytest.raises(InvalidLink, match="document unknown or not gated"):
        verify(token, keys, documents=frozenset({"iso-27001"}))


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Ed25519PrivateKey.generate()
    keys = {"sales": key.public_key()}
    token = minted(key, days=1)
    verify(token, keys)
    no_second_verification(monkeypatch)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Clock:
            return cls.fromtimestamp(later.timestamp(), tz)

    monkeypatch.setattr(tokens, "dt", types.SimpleNamespace(datetime=Clock, timedelta=dt.timedelta, UTC=dt.UTC))
    with pytest.raises(ExpiredLink):
        verify(token, keys)


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_verified", tokens._VerifiedTokens(3))
    key = Ed25519PrivateKey.generate()
    keys = {"sales": key.public_key()}
    made = [minted(key) for _ in range(5)]
    for token in made:
        verify(token, keys)
    kept = [token for token in made if tokens._verified.get(token, keys, ISSUER, tokens.LEEWAY_SECONDS)]
    assert kept == made[2:]  # the oldest went first
