"""Type stubs of the compiled module (python/src/*.rs)."""

from typing import Any, Optional, Sequence

__version__: str

class AssayError(ValueError):
    """Bad input or a failed operation; the message names the file, column
    or line and what was expected."""

class Profile:
    """Statistics of a dataset per column and per slice (``assay.profile/1``)."""

    @staticmethod
    def from_json(text: str, name: str = "<json>") -> Profile: ...
    def to_json(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def to_pandas(self) -> Any: ...
    def to_html(self) -> str: ...
    def to_table(self) -> str: ...
    def merge(self, *others: Profile) -> Profile: ...
    @property
    def rows(self) -> int: ...
    @property
    def columns(self) -> list[str]: ...
    @property
    def slices(self) -> list[str]: ...
    @property
    def sources(self) -> list[str]: ...
    def _repr_html_(self) -> str: ...
    def __eq__(self, other: object) -> bool: ...

def profile(
    data: Any,
    source: str,
    slices: Sequence[Sequence[str]] = ...,
    roles: Sequence[tuple[str, str]] = ...,
    max_slices: int = 1000,
) -> Profile: ...
def merge(profiles: Sequence[Profile]) -> Profile: ...
def merge_json(texts: Sequence[str]) -> Profile: ...
def infer_schema(
    profile: Profile,
    *,
    ranges: bool = False,
    max_domain_size: Optional[int] = None,
    max_int_categories: Optional[int] = None,
    categorical: Sequence[str] = ...,
    toml: bool = False,
) -> str: ...
def validate(
    data: Any,
    source: str,
    schema: Optional[tuple[str, str]] = None,
    suite: Optional[tuple[str, str]] = None,
    environment: Optional[str] = None,
    result_format: Optional[str] = None,
) -> tuple[str, str, bool]: ...
def drift(
    reference: Any,
    current: Any,
    reference_label: str,
    current_label: str,
    schema: Optional[tuple[str, str]] = None,
    method: Optional[str] = None,
    all_methods: bool = False,
    slices: Sequence[Sequence[str]] = ...,
) -> tuple[str, str, bool]: ...
