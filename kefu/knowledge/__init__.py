"""Knowledge: documents → chunks → indexes; FAQ matching and passage retrieval.

This is the embedded default (jieba + BM25, no database access); the store keeps what the
index is built from, and the engine decides what to do with the hits.
"""

from __future__ import annotations

from kefu.knowledge.chunking import split_document, split_sentences
from kefu.knowledge.index import KnowledgeIndex, knowledge_fingerprint
from kefu.knowledge.ingest import (
    DOCUMENT_SUFFIXES,
    FAQ_SUFFIXES,
    content_hash,
    faq_id,
    iter_document_files,
    read_document,
    read_faq_file,
)
from kefu.knowledge.tokenizer import detect_language, tokenize

__all__ = [
    "DOCUMENT_SUFFIXES",
    "FAQ_SUFFIXES",
    "KnowledgeIndex",
    "content_hash",
    "detect_language",
    "faq_id",
    "iter_document_files",
    "knowledge_fingerprint",
    "read_document",
    "read_faq_file",
    "split_document",
    "split_sentences",
    "tokenize",
]
