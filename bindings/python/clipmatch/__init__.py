"""clipmatch — match movie posters to their synopses, CLIP-style.

A thin Python face over the C++ library (LibTorch inside, no PyTorch needed):

* ``Model`` encodes posters (files, encoded bytes or NumPy pixels) and intros into L2-normalised embeddings
  (NumPy float32 arrays), trains, evaluates and saves; ``Model.load`` reads a checkpoint or a run folder.
* ``distance_matrix`` compares two embedding matrices; ``top_k`` finds nearest neighbours in bounded memory;
  ``CatalogIndex`` (FAISS: flat, HNSW, IVF-PQ) searches catalogs of millions, saved and loaded as a folder.
* ``load_dataset`` reads a dataset folder; ``synthesize_dataset`` writes a synthetic one.
* ``ModelConfig`` / ``TrainOptions`` hold settings; text-valued options take the names ``names(kind)`` lists,
  and ``encoder_kinds()`` lists the encoders.
* ``read_poster_text`` reads the words printed on posters (Tesseract); ``evaluate(..., ocr=True)`` and
  ``TrainOptions(ocr=True)`` fuse them with the visual match (``ocr_available()`` says whether this build can).
* ``TrainOptions.distributed = DistributedOptions.from_environment()`` makes a script launched by torchrun or
  SLURM one rank of a data-parallel run (``distributed_available()`` says whether this build can).
* ``set_log_callback`` routes the library's messages (e.g. one line per epoch) to Python.

Errors raise ``clipmatch.Error`` with a message naming the file, row or field; a progress callback returning
False raises ``clipmatch.Cancelled`` (a subclass). Long calls release the GIL and can be interrupted with
Ctrl-C (KeyboardInterrupt), leaving the model usable.
"""
from ._clipmatch import (  # noqa: F401
    Cancelled,
    CatalogIndex,
    Dataset,
    DistributedOptions,
    Error,
    Model,
    ModelConfig,
    TrainOptions,
    build_info,
    catalog_index_available,
    distance_matrix,
    distributed_available,
    encoder_kinds,
    load_dataset,
    names,
    ocr_available,
    read_poster_text,
    set_log_callback,
    synthesize_dataset,
    top_k,
    version,
)

__version__ = version()

__all__ = [
    "Cancelled",
    "CatalogIndex",
    "Dataset",
    "DistributedOptions",
    "Error",
    "Model",
    "ModelConfig",
    "TrainOptions",
    "build_info",
    "catalog_index_available",
    "distance_matrix",
    "distributed_available",
    "encoder_kinds",
    "load_dataset",
    "names",
    "ocr_available",
    "read_poster_text",
    "set_log_callback",
    "synthesize_dataset",
    "top_k",
    "version",
]
