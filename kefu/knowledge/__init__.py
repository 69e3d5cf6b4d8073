"""Knowledge: documents → chunks → indexes; FAQ matching and passage retrieval.

* Ingestion: Markdown, text, HTML, PDF and DOCX (:func:`read_document`,
  :func:`parse_document` for uploads), FAQ JSONL/CSV (:func:`read_faq_file`), cleaning
  (:func:`clean_text`), structure-aware chunking (:func:`split_document`).
* Retrieval: :class:`KnowledgeIndex` — jieba + BM25 by default; with an embedder
  (:func:`build_embedder`, ``knowledge.embedders``) hybrid BM25 + dense over the embedded
  vector index, fused into one relevance in [0, 1]; an optional :class:`Reranker`. A chat
  turn awaits the model calls (:meth:`KnowledgeIndex.query_vector`,
  :meth:`KnowledgeIndex.asearch`) under a deadline and degrades to lexical retrieval.
* Vector stores behind :class:`VectorIndex`: the embedded numpy index (default) and Milvus
  (``kefu.knowledge.vectors.milvus``, the ``kefu[milvus]`` extra).

No database access: the store keeps what the index is built from, and the engine decides
what to do with the hits.
"""

from __future__ import annotations

from kefu.knowledge.build_report import BuildProgress, BuildReport
from kefu.knowledge.chunking import split_document, split_sentences
from kefu.knowledge.embedders import Embedder, build_embedder, build_reranker
from kefu.knowledge.index import KnowledgeIndex, Passages, QueryVector, knowledge_fingerprint
from kefu.knowledge.ingest import (
    DOCUMENT_SUFFIXES,
    FAQ_SUFFIXES,
    clean_text,
    content_hash,
    faq_id,
    iter_document_files,
    parse_document,
    parse_faq,
    read_document,
    read_faq_file,
)
from kefu.knowledge.query_time import Degraded
from kefu.knowledge.rerank import Reranker
from kefu.knowledge.tokenizer import detect_language, jieba_tokenizer, tokenize
from kefu.knowledge.vectors import EmbeddedVectorIndex, VectorIndex

__all__ = [
    "DOCUMENT_SUFFIXES",
    "FAQ_SUFFIXES",
    "BuildProgress",
    "BuildReport",
    "Degraded",
    "EmbeddedVectorIndex",
    "Embedder",
    "KnowledgeIndex",
    "Passages",
    "QueryVector",
    "Reranker",
    "VectorIndex",
    "build_embedder",
    "build_reranker",
    "clean_text",
    "content_hash",
    "detect_language",
    "faq_id",
    "iter_document_files",
    "jieba_tokenizer",
    "knowledge_fingerprint",
    "parse_document",
    "parse_faq",
    "read_document",
    "read_faq_file",
    "split_document",
    "split_sentences",
    "tokenize",
]
