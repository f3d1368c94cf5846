"""Type stubs of the native module clipmatch._clipmatch (see bindings/python/module.cpp).

Text-valued options accept the names clipmatch.names(kind) lists; the defaults shown as ``...`` are the C++
library's own (ModelConfig{}, TrainOptions{}, EvalOptions{}, EncodeOptions{}, SynthOptions{}).
"""
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypedDict, Union, overload

import numpy as np
import numpy.typing as npt

_Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
_Float32Matrix = npt.NDArray[np.float32]
_Int64Matrix = npt.NDArray[np.int64]
_ArrayLike = npt.ArrayLike
_Pixels = npt.NDArray[np.uint8]
_BytesLike = Union[bytes, bytearray, memoryview]
#: progress(stage, done, total): None/True goes on, False cancels (raises Cancelled).
ProgressCallable = Callable[[str, int, int], Optional[bool]]

class Error(Exception):
    """Every failure the library reports; the message names what went wrong and where."""

class Cancelled(Error):
    """A progress callback returned False; the call stopped and the model is still usable."""

class RetrievalMetrics(TypedDict):
    r1: float
    r5: float
    r10: float
    median_rank: float
    mean_rank: float

class SplitMetrics(TypedDict):
    n: int
    acc_dim0: float
    acc_dim1: float
    poster_to_intro: RetrievalMetrics
    intro_to_poster: RetrievalMetrics

class EpochLog(TypedDict):
    epoch: int
    train_loss: float
    learning_rate: float
    temperature: float
    seconds: float
    splits: Dict[str, SplitMetrics]

class TrainReport(TypedDict):
    epochs_run: int
    best_epoch: int
    best_heldout_r1: float
    seconds: float
    cache_dir: str
    cache_hits: int
    cache_misses: int
    history: List[EpochLog]
    fusion_weight: float
    calibration_rows: List[int]

class EvaluationReport(TypedDict, total=False):
    n: int
    distance: str
    splits: Dict[str, SplitMetrics]
    cache_hits: int
    cache_misses: int
    fusion_weight: float  # -1 when the text channel was off; the keys below only when it was on
    poster_text: List[str]
    ocr_cache_hits: int
    posters_read: int
    ocr_seconds: float

class EncoderKind(TypedDict):
    name: str
    side: str
    needs_path: bool
    description: str

class Movie(TypedDict):
    poster: str
    intro: str
    title: str
    genres: List[str]
    movie_id: str
    year: int
    row: int

def version() -> str: ...
def build_info() -> str: ...
def encoder_kinds() -> List[EncoderKind]: ...
@overload
def names(kind: str) -> Dict[str, str]: ...
@overload
def names(kind: None = None) -> Dict[str, Dict[str, str]]: ...
def set_log_callback(callback: Optional[Callable[[str, str], object]]) -> None: ...

class ModelConfig:
    image_encoder: str
    text_encoder: str
    embed_dim: int
    head: str
    mlp_hidden: int
    temperature: str
    max_text_tokens: int
    use_pretrained_projection: bool
    seed: int
    def __init__(
        self,
        image_encoder: str = ...,
        text_encoder: str = ...,
        embed_dim: int = ...,
        head: str = ...,
        mlp_hidden: int = ...,
        temperature: str = ...,
        max_text_tokens: int = ...,
        seed: int = ...,
        use_pretrained_projection: bool = ...,
    ) -> None: ...

class DistributedOptions:
    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int
    timeout_seconds: float
    def __init__(
        self,
        *,
        rank: int = ...,
        world_size: int = ...,
        local_rank: int = ...,
        master_addr: str = ...,
        master_port: int = ...,
        timeout_seconds: float = ...,
    ) -> None: ...
    @staticmethod
    def from_environment() -> DistributedOptions: ...
    @property
    def enabled(self) -> bool: ...

def distributed_available() -> bool: ...

class TrainOptions:
    run_dir: str
    epochs: int
    batch_size: int
    lr: float
    encoder_lr: float
    weight_decay: float
    warmup: float
    schedule: str
    grad_clip: float
    loss: str
    freeze: str
    unfreeze_top: int
    unfreeze_top_text: int
    early_stopping: int
    cache_dir: str
    use_cache: bool
    seed: int
    verbose: bool
    plateau_factor: float
    plateau_patience: int
    genre_positive_weight: float
    mixed_precision: bool
    eval_every: int
    resume: bool
    precision: str
    ocr: bool
    fusion_weight: float
    calibration_fraction: float
    distributed: DistributedOptions
    def __init__(
        self,
        run_dir: _Path,
        *,
        epochs: int = ...,
        batch_size: int = ...,
        lr: float = ...,
        encoder_lr: float = ...,
        weight_decay: float = ...,
        warmup: float = ...,
        schedule: str = ...,
        grad_clip: float = ...,
        loss: str = ...,
        freeze: str = ...,
        unfreeze_top: int = ...,
        unfreeze_top_text: int = ...,
        early_stopping: int = ...,
        cache_dir: Optional[_Path] = ...,
        use_cache: bool = ...,
        seed: int = ...,
        verbose: bool = ...,
        plateau_factor: float = ...,
        plateau_patience: int = ...,
        genre_positive_weight: float = ...,
        mixed_precision: bool = ...,
        eval_every: int = ...,
        resume: bool = ...,
        precision: str = ...,
        ocr: bool = ...,
        fusion_weight: float = ...,
    ) -> None: ...

class Dataset:
    @property
    def root(self) -> str: ...
    @property
    def train(self) -> List[int]: ...
    def heldout(self) -> List[int]: ...
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Movie: ...
    @property
    def posters(self) -> List[str]: ...
    @property
    def intros(self) -> List[str]: ...
    @property
    def titles(self) -> List[str]: ...
    @property
    def genres(self) -> List[List[str]]: ...
    @property
    def movie_ids(self) -> List[str]: ...
    @property
    def years(self) -> List[int]: ...

class CatalogIndex:
    @staticmethod
    def build(
        rows: _ArrayLike, ids: Sequence[str] = ..., titles: Sequence[str] = ..., kind: str = ...
    ) -> "CatalogIndex": ...
    @staticmethod
    def load(folder: _Path) -> "CatalogIndex": ...
    def save(self, folder: _Path) -> None: ...
    def search(self, queries: _ArrayLike, k: int) -> Tuple[_Int64Matrix, _Float32Matrix]: ...
    def __len__(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def ids(self) -> List[str]: ...
    @property
    def titles(self) -> List[str]: ...

def catalog_index_available() -> bool: ...
def ocr_available() -> Tuple[bool, str]: ...
def read_poster_text(
    paths: Sequence[_Path],
    *,
    min_height: int = ...,
    page_modes: Sequence[int] = ...,
    title_bands: bool = ...,
    min_confidence: float = ...,
    cache_dir: Optional[_Path] = ...,
    threads: int = ...,
    progress: Optional[ProgressCallable] = ...,
) -> List[List[Tuple[str, float]]]: ...
def load_dataset(folder: _Path, skip_bad_rows: bool = ..., check_posters_exist: bool = ...) -> Dataset: ...
def synthesize_dataset(
    out: _Path,
    n: int = ...,
    seed: int = ...,
    *,
    width: int = ...,
    height: int = ...,
    train_fraction: float = ...,
    jpeg_quality: int = ...,
) -> str: ...
def distance_matrix(posters: _ArrayLike, intros: _ArrayLike, distance: str = ...) -> _Float32Matrix: ...
def top_k(
    queries: _ArrayLike, catalog: _ArrayLike, k: int, distance: str = ...
) -> Tuple[npt.NDArray[np.int64], _Float32Matrix]: ...

class Model:
    def __init__(self, config: ModelConfig = ..., device: str = ...) -> None: ...
    @staticmethod
    def load(path: _Path, device: str = ...) -> "Model": ...
    def save(self, path: _Path) -> None: ...
    @property
    def device(self) -> str: ...
    @property
    def logit_scale(self) -> float: ...
    @property
    def fusion_weight(self) -> float: ...
    @property
    def embed_dim(self) -> int: ...
    @property
    def config(self) -> ModelConfig: ...
    def encode_posters(
        self, paths: Sequence[_Path], batch_size: int = ..., progress: Optional[ProgressCallable] = ...
    ) -> _Float32Matrix: ...
    def encode_intros(
        self, intros: Sequence[str], batch_size: int = ..., progress: Optional[ProgressCallable] = ...
    ) -> _Float32Matrix: ...
    def encode_poster_bytes(
        self,
        images: Union[_BytesLike, Sequence[_BytesLike]],
        batch_size: int = ...,
        progress: Optional[ProgressCallable] = ...,
    ) -> _Float32Matrix: ...
    def encode_poster_pixels(
        self,
        images: Union[_Pixels, Sequence[_Pixels]],
        batch_size: int = ...,
        progress: Optional[ProgressCallable] = ...,
    ) -> _Float32Matrix: ...
    def poster_features(self, paths: Sequence[_Path], batch_size: int = ...) -> _Float32Matrix: ...
    def intro_features(self, intros: Sequence[str], batch_size: int = ...) -> _Float32Matrix: ...
    def train(
        self,
        dataset: Dataset,
        options: TrainOptions,
        progress: Optional[ProgressCallable] = ...,
        on_epoch: Optional[Callable[[EpochLog], object]] = ...,
    ) -> TrainReport: ...
    def evaluate(
        self,
        dataset: Dataset,
        out_dir: Optional[_Path] = ...,
        cache_dir: Optional[_Path] = ...,
        distance: str = ...,
        progress: Optional[ProgressCallable] = ...,
        *,
        distance_npy: bool = ...,
        embeddings_npy: bool = ...,
        heatmap_png: bool = ...,
        topk_csv: bool = ...,
        heatmap_size: int = ...,
        verbose: bool = ...,
        precision: str = ...,
        ocr: bool = ...,
        fusion_weight: float = ...,
        ocr_cache_dir: Optional[_Path] = ...,
    ) -> EvaluationReport: ...
