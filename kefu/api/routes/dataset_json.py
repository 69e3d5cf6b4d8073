"""Dify's JSON shapes for datasets, documents, segments and retrieval records."""

from __future__ import annotations

from typing import Any

from kefu.core.records import DatasetRecord, DocumentRecord, SegmentRecord
from kefu.services.registry import AppRuntime

__all__ = ["dataset_json", "document_json", "indexing_json", "segment_json"]

_SEARCH_METHODS = {
    "lexical": "full_text_search",
    "dense": "semantic_search",
    "hybrid": "hybrid_search",
}


def dataset_json(dataset: DatasetRecord, app: AppRuntime) -> dict[str, Any]:
    index = app.index
    knowledge = app.config.knowledge
    rerank = knowledge.retrieval.rerank
    return {
        "id": dataset.id,
        "name": dataset.name,
        "description": dataset.description,
        "provider": "vendor",
        "permission": "only_me",
        "data_source_type": "upload_file",
        # Every dataset of an app shares the app's index, so its retrieval settings.
        "indexing_technique": "economy" if index.embedder is None else "high_quality",
        "app_count": 1,
        "document_count": dataset.document_count,
        "word_count": dataset.word_count,
        "created_by": "",
        "created_at": int(dataset.created_at.timestamp()),
        "updated_by": "",
        "updated_at": int(dataset.updated_at.timestamp()),
        "embedding_model": index.embedder_name,
        "embedding_model_provider": None,
        "embedding_available": True,
        "retrieval_model_dict": {
            "search_method": _SEARCH_METHODS[index.retrievers],
            "reranking_enable": index.reranker is not None,
            "reranking_model": {
                "reranking_provider_name": "",
                "reranking_model_name": getattr(rerank, "model", "") or "",
            },
            "top_k": knowledge.top_k,
            "score_threshold_enabled": True,
            # Dify has one threshold per dataset: the one for the app's own language
            # (kefu calibrates one per language; AppRuntime.passage_threshold)
            "score_threshold": app.passage_threshold(app.config.language),
        },
        "tags": [],
        "doc_form": "text_model",
        "is_default": dataset.id == app.id,  # kefu: the app's own knowledge
    }


def document_json(
    document: DocumentRecord, status: str, words: int, position: int = 1
) -> dict[str, Any]:
    created = int(document.created_at.timestamp())
    return {
        "id": document.id,
        "position": position,
        "data_source_type": "upload_file",
        "data_source_info": None,
        "dataset_process_rule_id": None,
        "name": document.name,
        "created_from": document.origin,  # api | config | import
        "created_by": "",
        "created_at": created,
        "tokens": 0,
        "indexing_status": status,
        "error": None,
        "enabled": True,
        "disabled_at": None,
        "disabled_by": None,
        "archived": False,
        "display_status": "available" if status == "completed" else "indexing",
        "word_count": words,
        "hit_count": 0,
        "doc_form": "qa_model" if document.kind == "faq" else "text_model",
        "segment_count": document.chunk_count,  # kefu: chunks, or FAQ entries
    }


def indexing_json(document: DocumentRecord, status: str) -> dict[str, Any]:
    started = int(document.updated_at.timestamp())
    done = status == "completed"
    return {
        "id": document.id,
        "indexing_status": status,
        "processing_started_at": started,
        "parsing_completed_at": started,
        "cleaning_completed_at": started,
        "splitting_completed_at": started,
        "completed_at": started if done else None,
        "paused_at": None,
        "error": None,
        "stopped_at": None,
        "completed_segments": document.chunk_count if done else 0,
        "total_segments": document.chunk_count,
    }


def segment_json(segment: SegmentRecord, status: str, created_at: int) -> dict[str, Any]:
    created = int(segment.created_at.timestamp()) if segment.created_at else created_at
    return {
        "id": segment.id,
        "position": segment.position,
        "document_id": segment.document_id,
        "content": segment.content,
        "answer": segment.answer or None,
        "word_count": len(segment.content) + len(segment.answer),
        "tokens": 0,
        "keywords": [],
        "index_node_id": None,
        "index_node_hash": None,
        "hit_count": 0,
        "enabled": True,
        "disabled_at": None,
        "disabled_by": None,
        "status": status,
        "created_by": "",
        "created_at": created,
        "indexing_at": created,
        "completed_at": created if status == "completed" else None,
        "error": None,
        "stopped_at": None,
        "heading": segment.heading,  # kefu: the heading path the chunk sits under
        "variants": list(segment.variants),  # kefu: an FAQ entry's other phrasings
    }
