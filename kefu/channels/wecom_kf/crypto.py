"""WeCom's callback encryption (WXBizMsgCrypt), per 企业微信 "加解密方案说明"
(https://developer.work.weixin.qq.com/document/path/90968).

Written here on ``cryptography`` rather than taken from wechatpy: wechatpy pulls in
requests, six and more for these sixty lines, and its last release is years old. The
algorithm: the signature is SHA1 over the sorted token, timestamp, nonce and ciphertext;
the AES key is base64(EncodingAESKey + "="), the IV its first 16 bytes; AES-256-CBC with
PKCS#7 padding to 32 bytes over 16 random bytes + the message length (4 bytes, network
order) + the message + the receive id (the corp id). Tested against the published vectors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from xml.etree import ElementTree

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["WeComCrypto", "WeComCryptoError", "parse_xml"]


class WeComCryptoError(ValueError):
    """A callback that is not signed by WeCom or not decryptable with our key."""


def parse_xml(data: bytes | str) -> dict[str, str]:
    """A flat WeCom XML document as a dict of its child elements' texts.

    The standard library's parser: it never fetches external entities, and the bundled
    expat refuses entity-expansion bombs; callback bodies are size-limited by the API.
    """
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise WeComCryptoError(f"not valid XML: {exc}") from None
    return {child.tag: (child.text or "") for child in root}


class WeComCrypto:
    """Signs, verifies, encrypts and decrypts for one callback configuration."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            key = b""
        if len(encoding_aes_key) != 43 or len(key) != 32:
            raise WeComCryptoError("the EncodingAESKey must be the 43 characters WeCom shows")
        self.token = token
        self.receive_id = receive_id
        self._key = key

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        joined = "".join(sorted([self.token, timestamp, nonce, encrypted]))
        return hashlib.sha1(joined.encode()).hexdigest()

    def check(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = self.signature(timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, signature.lower()):
            raise WeComCryptoError("the msg_signature does not match")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def decrypt(self, encrypted: str) -> str:
        """The message inside; its receive id must be ours."""
        try:
            data = base64.b64decode(encrypted, validate=True)
            decryptor = self._cipher().decryptor()
            padded = decryptor.update(data) + decryptor.finalize()
            unpadder = padding.PKCS7(256).unpadder()
            plain = unpadder.update(padded) + unpadder.finalize()
        except (binascii.Error, ValueError) as exc:
            raise WeComCryptoError(f"cannot decrypt: {exc}") from None
        if len(plain) < 20:
            raise WeComCryptoError("cannot decrypt: too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length or receive_id.decode(errors="replace") != self.receive_id:
            raise WeComCryptoError("the message is not for this corp id")
        return message.decode()

    def encrypt(self, message: str, random_bytes: bytes | None = None) -> str:
        """What WeCom sends (the mock server in the tests encrypts with this)."""
        body = message.encode()
        plain = (
            (random_bytes or os.urandom(16))
            + struct.pack(">I", len(body))
            + body
            + self.receive_id.encode()
        )
        padder = padding.PKCS7(256).padder()
        padded = padder.update(plain) + padder.finalize()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()

    def verify_url(self, signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The GET that checks a callback URL: its echostr, decrypted, is the answer."""
        self.check(signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_callback(self, signature: str, timestamp: str, nonce: str, body: bytes) -> str:
        """A POSTed callback (``<xml><Encrypt>…``): the XML message inside."""
        encrypted = parse_xml(body).get("Encrypt", "")
        if not encrypted:
            raise WeComCryptoError("the callback has no Encrypt element")
        self.check(signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)
