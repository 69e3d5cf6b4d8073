"""Feishu's event encryption and signature, per 飞书开放平台 "配置订阅方式 / Encrypt Key"
(https://open.feishu.cn/document/server-docs/event-subscription-guide/event-subscription-configure-/request-url-configuration-case).

AES-256-CBC with key SHA-256(Encrypt Key); the IV is the first 16 bytes of the base64-decoded
``encrypt`` field; PKCS#7 padding. Requests carry ``X-Lark-Signature``: hex SHA-256 of
timestamp + nonce + Encrypt Key + raw body. On ``cryptography`` (see wecom_kf/crypto.py for
why not a platform SDK: Feishu's ``lark-oapi`` is a large SDK for these few lines).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["FeishuCryptoError", "decrypt", "encrypt", "signature"]


class FeishuCryptoError(ValueError):
    """An event that does not decrypt with the Encrypt Key, or a wrong signature."""


def _key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode()).digest()


def decrypt(encrypt_key: str, encrypted: str) -> str:
    try:
        raw = base64.b64decode(encrypted, validate=True)
        if len(raw) < 32 or len(raw) % 16:
            raise ValueError("wrong length")
        decryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(raw[:16])).decryptor()
        padded = decryptor.update(raw[16:]) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise FeishuCryptoError(f"cannot decrypt the event: {exc}") from None


def encrypt(encrypt_key: str, plaintext: str) -> str:
    """What Feishu sends (the mock Feishu server in the tests encrypts with this)."""
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def check_signature(
    timestamp: str, nonce: str, encrypt_key: str, body: bytes, received: str
) -> None:
    if not hmac.compare_digest(signature(timestamp, nonce, encrypt_key, body), received):
        raise FeishuCryptoError("the X-Lark-Signature does not match")
