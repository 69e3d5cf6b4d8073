"""``kefu eval faq`` and ``kefu eval retrieval``: measure FAQ matching and passage search.

Both index the given knowledge exactly as an app does with the default configuration
(hybrid: BM25 + the multilingual encoder when installed, else lexical) and say which
retrievers were on; options switch them. Bad input prints one line and exits with status 2.

* ``faq``: FAQ JSONL lines ``{"id", "question", "answer", "variants"?}``, query lines
  ``{"text", "faq_id"}`` → hit@1, hit@5, MRR (over the top 10) and ms per query, plus how
  many top hits clear the FAQ threshold and how many of those are right.
* ``retrieval``: a folder of documents and query lines ``{"text", "doc_ids": [...]}``, where
  a document id is the file's path relative to the folder with ``/`` separators (e.g.
  ``policies/shipping.md``) → recall@1/5/10 and MRR over the ranked distinct documents of
  the best passages; and the passage answers at the passage threshold, as a chat turn
  decides them (the first of the best three passages above it that is on the question's
  topic): answered right (from one of ``doc_ids``), wrong, declined — at the threshold
  calibrated per language on the knowledge itself (with the app's FAQ: ``--faq``) next to
  the fixed one. ``"doc_ids": []`` marks a question the documents do not answer: any
  answer is wrong (it counts in the answers, not in recall).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from kefu.appfile.app_config import KnowledgeConfig
from kefu.appfile.embedding_config import EmbeddingConfig, RetrievalConfig
from kefu.cli.index_progress import RichBuildProgress, build_progress_bars
from kefu.core.errors import KefuError
from kefu.core.jsonl import read_jsonl
from kefu.core.types import Chunk, FaqEntry
from kefu.knowledge import (
    KnowledgeIndex,
    build_embedder,
    iter_document_files,
    read_document,
    read_faq_file,
    split_document,
)
from kefu.knowledge.classifier_encoder import ClassifierEncoder, minilm_encoder
from kefu.knowledge.passage_calibration import TOP_K as PASSAGE_TOP_K
from kefu.knowledge.tokenizer import detect_language
from kefu.knowledge.topic import on_topic, topic_words
from kefu.nlu.faq_classifier import FaqEntryTrainer

__all__ = ["faq_command", "retrieval_command"]

_MRR_DEPTH = 10
_RECALL_AT = (1, 5, 10)

Retrievers = Literal["auto", "lexical", "dense", "hybrid"]
Provider = Literal["auto", "none", "multilingual", "local", "openai"]
FusionMode = Literal["weighted", "rrf"]

FaqFiles = Annotated[
    list[Path], typer.Option("--faq", help="FAQ file (JSONL or CSV); repeat for several")
]
QueryFile = Annotated[
    Path, typer.Option("--queries", help="JSONL queries with their expected answers")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="print the result as one JSON object")]
RetrieversOption = Annotated[
    Retrievers,
    typer.Option("--retrievers", help="auto: hybrid with an embedder, lexical without"),
]
EmbedderOption = Annotated[
    Provider | None,
    typer.Option("--embedder", help="override the default embedder (none: lexical only)"),
]
ModelDirOption = Annotated[
    Path | None, typer.Option("--model-dir", help="local embedder: model folder")
]
BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="openai embedder: server URL ending in /v1")
]
ModelOption = Annotated[str, typer.Option("--model", help="openai embedder: model name")]
FusionOption = Annotated[FusionMode | None, typer.Option("--fusion", help="hybrid fusion")]
DenseWeightOption = Annotated[
    float | None, typer.Option("--dense-weight", min=0.0, max=1.0, help="weighted fusion")
]


class _BadInput(Exception):
    pass


def faq_command(
    faq: FaqFiles,
    queries: QueryFile,
    json_output: JsonFlag = False,
    retrievers: RetrieversOption = "auto",
    embedder: EmbedderOption = None,
    model_dir: ModelDirOption = None,
    base_url: BaseUrlOption = None,
    model: ModelOption = "",
    fusion: FusionOption = None,
    dense_weight: DenseWeightOption = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="FAQ threshold (default: calibrated per language on the FAQ itself)"),
    ] = None,
    faq_classifier: Annotated[
        bool,
        typer.Option(
            help="train the FAQ entry classifier when the FAQ has enough variants (default)"
        ),
    ] = True,
    english_encoder: Annotated[
        bool,
        typer.Option(
            help="let the FAQ classifier of an English FAQ try the English MiniLM's vectors "
            "as well (default, when installed; kept only if they win on the FAQ's own forms)"
        ),
    ] = True,
) -> None:
    """FAQ matching: hit@1, hit@5, MRR and ms per query on labelled queries; how many top
    hits clear the (calibrated) threshold and how many of those are right; each next to the
    lexical-only figure of the same run."""
    console = Console(stderr=True, soft_wrap=True)
    with _errors_exit(console):
        entries = [entry for path in faq for entry in read_faq_file(path)]
        if not entries:
            raise _BadInput("the FAQ files hold no entries")
        known = {entry.id for entry in entries}
        rows = _read_queries(queries, "faq_id", str)
        for line, row in rows:
            if row["faq_id"] not in known:
                raise _BadInput(f"{queries}, line {line}: unknown faq_id {row['faq_id']!r}")
        retrieval = _retrieval(
            retrievers, embedder, model_dir, base_url, model, fusion, dense_weight
        )
        trainer = FaqEntryTrainer() if faq_classifier else None
        index, build_s, described = _build(
            console, retrieval, entries, [], trainer, minilm_encoder if english_encoder else None
        )
        fitted = index.faq_fusion
        result: dict[str, Any] = {
            "retrievers": described,
            "faq_classifier": fitted.describe() if fitted is not None else None,
            "faq_entries": len(entries),
            "queries": len(rows),
        }
        result |= _measure_faq(console, index, rows, threshold)
        result["build_s"] = round(build_s, 3)
        if index.retrievers != "lexical":
            lexical = RetrievalConfig(
                retrievers="lexical", embedding=EmbeddingConfig(provider="none")
            )
            lexical_index, _, _ = _build(console, lexical, entries, [])
            result["lexical"] = _measure_faq(console, lexical_index, rows, threshold)
    _print(console, result, json_output, "FAQ matching")


def _measure_faq(
    console: Console,
    index: KnowledgeIndex,
    rows: list[tuple[int, dict[str, Any]]],
    fixed: float | None,
) -> dict[str, Any]:
    """hit@k, MRR, speed, and the direct answers at the threshold: per query language the
    one calibrated on the FAQ (or ``fixed``): answered, right when answered, wrong, declined."""
    default = KnowledgeConfig().faq_threshold
    calibration = index.calibration
    ranks: list[int | None] = []
    answered = answered_right = 0
    languages: dict[str, dict[str, Any]] = {}
    elapsed = 0.0
    with _progress(console) as progress:
        task = progress.add_task("matching", total=len(rows))
        for _, row in rows:
            start = time.perf_counter()
            hits = index.match_faq(row["text"], top_k=_MRR_DEPTH)
            elapsed += time.perf_counter() - start
            ids = [hit.entry.id for hit in hits]
            ranks.append(ids.index(row["faq_id"]) + 1 if row["faq_id"] in ids else None)
            language = detect_language(row["text"])
            cutoff = calibration.threshold(language, default) if fixed is None else fixed
            counts = languages.setdefault(
                language,
                {
                    "threshold": cutoff,
                    "chosen_by": "--threshold"
                    if fixed is not None
                    else calibration.describe(language),
                    "queries": 0,
                },
            )
            counts["queries"] += 1
            if hits and hits[0].relevance >= cutoff:
                answered += 1
                answered_right += ids[0] == row["faq_id"]
            progress.advance(task)
    count = len(rows)
    wrong = answered - answered_right
    return {
        "hit_at_1": _share(ranks, 1),
        "hit_at_5": _share(ranks, 5),
        "mrr": round(sum(1 / r for r in ranks if r) / count, 4),
        "ms_per_query": round(1000 * elapsed / count, 3),
        "thresholds": languages,
        "answered": round(answered / count, 4),
        "answered_precision": round(answered_right / answered, 4) if answered else None,
        "answered_wrong": round(wrong / count, 4),
        "declined": round((count - answered) / count, 4),
        "wrong_rarer_than_decline": wrong < count - answered,
    }


def retrieval_command(
    docs: Annotated[Path, typer.Option("--docs", help="folder of documents")],
    queries: QueryFile,
    faq: Annotated[
        list[Path] | None,
        typer.Option(
            "--faq", help="the app's FAQ files (the passage calibration learns from them too)"
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="fixed passage threshold to compare with (default: 0.3)"
        ),
    ] = None,
    json_output: JsonFlag = False,
    retrievers: RetrieversOption = "auto",
    embedder: EmbedderOption = None,
    model_dir: ModelDirOption = None,
    base_url: BaseUrlOption = None,
    model: ModelOption = "",
    fusion: FusionOption = None,
    dense_weight: DenseWeightOption = None,
    chunk_size: Annotated[int, typer.Option(min=50, help="characters per chunk")] = 400,
    chunk_overlap: Annotated[int, typer.Option(min=0, help="overlap between chunks")] = 40,
) -> None:
    """Passage search: recall@1/@5/@10 and MRR of the documents that hold the answer; the
    passage answers (right, wrong, declined) at the calibrated and at a fixed threshold."""
    console = Console(stderr=True, soft_wrap=True)
    with _errors_exit(console):
        entries = [entry for path in faq or [] for entry in read_faq_file(path)]
        if not docs.is_dir():
            raise _BadInput(f"{docs}: not a folder")
        chunks = _chunks(docs, chunk_size, chunk_overlap)
        if not chunks:
            raise _BadInput(f"{docs}: no documents with text")
        known = {chunk.document_id for chunk in chunks}
        rows = _read_queries(queries, "doc_ids", list)
        for line, row in rows:
            missing = [d for d in row["doc_ids"] if d not in known]
            if missing:
                what = f"unknown doc_ids {missing}"
                raise _BadInput(f"{queries}, line {line}: {what} (ids are paths under {docs})")
        answerable = [(line, row) for line, row in rows if row["doc_ids"]]
        if not answerable:
            raise _BadInput(f"{queries}: no query names the documents that answer it")
        retrieval = _retrieval(
            retrievers, embedder, model_dir, base_url, model, fusion, dense_weight
        )
        index, build_s, described = _build(console, retrieval, entries, chunks)

        recalls = dict.fromkeys(_RECALL_AT, 0.0)
        reciprocal = 0.0
        elapsed = 0.0
        with _progress(console) as progress:
            task = progress.add_task("searching", total=len(answerable))
            for _, row in answerable:
                start = time.perf_counter()
                hits = index.search(row["text"], top_k=50)
                elapsed += time.perf_counter() - start
                ranked = list(dict.fromkeys(hit.chunk.document_id for hit in hits))
                wanted = set(row["doc_ids"])
                for k in _RECALL_AT:
                    recalls[k] += len(wanted & set(ranked[:k])) / len(wanted)
                first = next((i for i, d in enumerate(ranked[:_MRR_DEPTH], 1) if d in wanted), 0)
                reciprocal += 1 / first if first else 0.0
                progress.advance(task)
        count = len(answerable)
        result: dict[str, Any] = {
            "retrievers": described,
            "documents": len(known),
            "chunks": len(chunks),
            "queries": count,
        }
        result |= {f"recall_at_{k}": round(recalls[k] / count, 4) for k in _RECALL_AT}
        result |= {
            "mrr": round(reciprocal / count, 4),
            "ms_per_query": round(1000 * elapsed / count, 3),
            "build_s": round(build_s, 3),
        }
        result |= _measure_passage_answers(console, index, rows, threshold)
    _print(console, result, json_output, "Passage retrieval")


def _measure_passage_answers(
    console: Console,
    index: KnowledgeIndex,
    rows: list[tuple[int, dict[str, Any]]],
    fixed: float | None,
) -> dict[str, Any]:
    """The passage answers as a turn decides them, at each query language's calibrated
    threshold and at ``fixed`` (default: the app default): right, wrong, declined."""
    default = KnowledgeConfig().passage_threshold
    fixed = default if fixed is None else fixed
    calibration = index.passage_calibration
    # (calibrated or fixed, language) → right, wrong, declined
    counts: dict[tuple[str, str], list[int]] = {}
    thresholds: dict[str, dict[str, Any]] = {}
    with _progress(console) as progress:
        task = progress.add_task("answering", total=len(rows))
        for _, row in rows:
            text, wanted = row["text"], set(row["doc_ids"])
            language = detect_language(text)
            calibrated = calibration.threshold(language, default)
            chosen = thresholds.setdefault(
                language,
                {"threshold": calibrated, "chosen_by": calibration.describe(language)},
            )
            chosen["queries"] = chosen.get("queries", 0) + 1
            hits = index.search(text, top_k=PASSAGE_TOP_K)
            words = topic_words(text)
            for name, cutoff in (("calibrated", calibrated), ("fixed", fixed)):
                answer = next(
                    (h for h in hits if h.relevance >= cutoff and on_topic(words, h)), None
                )
                outcome = 2 if answer is None else 0 if answer.chunk.document_id in wanted else 1
                counts.setdefault((name, language), [0, 0, 0])[outcome] += 1
            progress.advance(task)
    result: dict[str, Any] = {"passage_thresholds": thresholds}
    for name in ("calibrated", "fixed"):
        label = "calibrated" if name == "calibrated" else f"fixed {fixed:g}"
        mine = {language: found for (kind, language), found in counts.items() if kind == name}
        total = [sum(found[i] for found in mine.values()) for i in range(3)]
        result[f"passage_answers ({label})"] = _answer_counts(total) | {
            language: _answer_counts(found) for language, found in sorted(mine.items())
        }
    return result


def _answer_counts(counts: list[int]) -> dict[str, Any]:
    right, wrong, declined = counts
    return {
        "questions": right + wrong + declined,
        "right": right,
        "wrong": wrong,
        "declined": declined,
        "precision": round(right / (right + wrong), 4) if right + wrong else None,
    }


@contextmanager
def _errors_exit(console: Console) -> Iterator[None]:
    try:
        yield
    except (KefuError, _BadInput) as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(2) from None


def _progress(console: Console) -> Progress:
    return Progress(console=console, transient=True, disable=not console.is_terminal)


def _read_queries(path: Path, key: str, kind: type) -> list[tuple[int, dict[str, Any]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, row in read_jsonl(path):
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"]:
            raise _BadInput(f"{path}, line {number}: expected an object with a 'text'")
        if not isinstance(row.get(key), kind):
            raise _BadInput(f"{path}, line {number}: {key!r} must be a {kind.__name__}")
        rows.append((number, row))
    if not rows:
        raise _BadInput(f"{path}: no queries")
    return rows


def _retrieval(
    retrievers: Retrievers,
    provider: Provider | None,
    model_dir: Path | None,
    base_url: str | None,
    model: str,
    fusion: FusionMode | None,
    dense_weight: float | None,
) -> RetrievalConfig:
    """The default retrieval config with the command line's overrides."""
    default = RetrievalConfig()
    embedding = default.embedding
    if provider is not None:
        embedding = EmbeddingConfig(
            provider=provider, model_dir=model_dir, base_url=base_url, model=model
        )
    changes: dict[str, Any] = {"embedding": embedding, "retrievers": retrievers}
    if fusion is not None:
        changes["fusion"] = fusion
    if dense_weight is not None:
        changes["dense_weight"] = dense_weight
    return default.model_copy(update=changes)


def _build(
    console: Console,
    retrieval: RetrievalConfig,
    faqs: list[FaqEntry],
    chunks: list[Chunk],
    faq_classifier: FaqEntryTrainer | None = None,
    classifier_encoder: ClassifierEncoder | None = None,
) -> tuple[KnowledgeIndex, float, str]:
    embedder = build_embedder(retrieval.embedding)
    index = KnowledgeIndex(
        embedder=embedder,
        retrieval=retrieval,
        faq_classifier=faq_classifier,
        classifier_encoder=classifier_encoder,
    )
    described = index.description
    console.print(f"retrievers: {described}", highlight=False)
    start = time.perf_counter()
    with build_progress_bars(console) as bars:
        report = index.rebuild(faqs, chunks, progress=RichBuildProgress(bars))
    console.print(f"index: {report.summary()}", highlight=False)
    described = index.description  # with the FAQ classifier, when the build trained one
    return index, time.perf_counter() - start, described


def _chunks(folder: Path, chunk_size: int, overlap: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    for path in iter_document_files(folder):
        document_id = path.relative_to(folder).as_posix()
        doc = read_document(path)
        for draft in split_document(doc, chunk_size, overlap):
            chunks.append(
                Chunk(
                    id=f"{document_id}#{draft.position}",
                    document_id=document_id,
                    document_name=doc.name,
                    position=draft.position,
                    content=draft.content,
                    heading=draft.heading,
                )
            )
    return chunks


def _share(ranks: list[int | None], k: int) -> float:
    return round(sum(1 for rank in ranks if rank and rank <= k) / len(ranks), 4)


def _print(console: Console, result: dict[str, Any], json_output: bool, title: str) -> None:
    if json_output:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    lexical: dict[str, Any] = result.get("lexical") or {}
    table = Table(title=title, show_header=bool(lexical))
    table.add_column("measure")
    table.add_column("value")
    if lexical:
        table.add_column("lexical only (same run)")
    for key, value in result.items():
        if key == "lexical":
            continue
        if key in ("thresholds", "passage_thresholds"):
            for language, chosen in value.items():
                kind = "passage threshold" if key == "passage_thresholds" else "threshold"
                cells = [f"{kind} ({language})", _threshold_cell(chosen)]
                other = lexical.get(key, {}).get(language)
                table.add_row(*cells, *([_threshold_cell(other)] if lexical else []))
            continue
        cells = [key, _cell(value)]
        table.add_row(*cells, *([_cell(lexical.get(key))] if lexical else []))
    Console().print(table)


def _cell(value: Any) -> str:
    if isinstance(value, dict) and "right" in value:  # passage answers, then per language
        lines = [_answers_line(value)]
        lines += [
            f"{key}: {_answers_line(found)}"
            for key, found in value.items()
            if isinstance(found, dict)
        ]
        return "\n".join(lines)
    return "—" if value is None else str(value)


def _answers_line(found: dict[str, Any]) -> str:
    precision = "—" if found["precision"] is None else f"{found['precision']:.0%}"
    return (
        f"{found['right']} right, {found['wrong']} wrong, {found['declined']} declined "
        f"of {found['questions']} (precision {precision})"
    )


def _threshold_cell(chosen: dict[str, Any] | None) -> str:
    if chosen is None:
        return "—"
    return f"{chosen['threshold']} ({chosen['queries']} queries): {chosen['chosen_by']}"
