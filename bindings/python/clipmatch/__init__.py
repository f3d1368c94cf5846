"""clipmatch — match movie posters to their synopses, CLIP-style.

A thin Python face over the C++ library: ``Model`` encodes posters and intros into L2-normalised
embeddings (NumPy float32 arrays), trains, evaluates and saves; ``distance_matrix`` compares embeddings;
``load_dataset`` and ``generate_synthetic`` read and write dataset folders. Errors raise ``clipmatch.Error``
with a message naming the file, row or field.
"""
from ._clipmatch import (  # noqa: F401
    Error,
    Model,
    ModelConfig,
    TrainOptions,
    distance_matrix,
    generate_synthetic,
    load_dataset,
    version,
)

__version__ = version()
