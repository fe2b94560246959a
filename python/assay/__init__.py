"""assay: data validation and monitoring for machine learning.

Profiles, schemas, validation and drift for pandas, polars and pyarrow data
(and Apache Spark, in :mod:`assay.spark`), computed by the same Rust library
as the ``assay`` command line, with the same results and messages.

>>> import assay, pandas as pd
>>> p = assay.profile(pd.DataFrame({"age": [31, 45, None]}))
>>> p.rows
3

Data is read through the Arrow C stream interface (``__arrow_c_stream__``):
pandas >= 2.2 and polars DataFrames, pyarrow Tables and RecordBatchReaders
hand their batches over without a copy of what is already Arrow.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from . import _assay
from ._assay import AssayError, Profile

__all__ = [
    "AssayError",
    "Profile",
    "Report",
    "drift",
    "infer_schema",
    "merge",
    "profile",
    "validate",
]

__version__ = _assay.__version__

SliceSpec = Union[str, Sequence[str]]


class Report(dict):
    """A JSON report of the CLI (``validate`` or ``drift``) as a dict.

    ``success`` says whether every check passed; in a notebook the report
    shows as the CLI's HTML page (``_repr_html_``), also in :attr:`html`.
    """

    def __init__(self, document: Mapping[str, Any], html: str, success: bool):
        super().__init__(document)
        self.html = html
        self.success = success

    def _repr_html_(self) -> str:
        return self.html

    def to_json(self, indent: Optional[int] = 2) -> str:
        """The report as the CLI's ``--format json`` text."""
        return json.dumps(self, indent=indent)


def _slice_specs(slices: Optional[Iterable[SliceSpec]]) -> list[list[str]]:
    """``"sex"``, ``"sex,race"`` or ``["sex", "race"]`` per slice spec."""
    if slices is None:
        return []
    if isinstance(slices, str):
        slices = [slices]
    specs = []
    for spec in slices:
        if isinstance(spec, str):
            specs.append([c.strip() for c in spec.split(",")])
        else:
            specs.append([str(c) for c in spec])
    return specs


def _source(data: Any) -> str:
    """What the data is, for the profile's ``sources``."""
    kind = type(data)
    return f"{kind.__module__.split('.')[0]}.{kind.__name__}"


def _arrow_data(data: Any) -> Any:
    """Anything with ``__arrow_c_stream__`` as is; an older pandas DataFrame
    (< 2.2) through pyarrow."""
    if hasattr(data, "__arrow_c_stream__") or isinstance(data, Profile):
        return data
    if type(data).__module__.startswith("pandas"):
        import pyarrow as pa

        return pa.Table.from_pandas(data, preserve_index=False)
    return data


def _text(value: Any, what: str, default_name: str) -> Optional[tuple[str, str]]:
    """A schema or suite: a path (str or os.PathLike) to a file, its text,
    or (suites) a Great Expectations suite as a dict."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return json.dumps(value), f"<{what}>.json"
    if isinstance(value, os.PathLike) or (
        isinstance(value, str) and "\n" not in value and os.path.exists(value)
    ):
        path = os.fspath(value)
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    if isinstance(value, str):
        if "\n" not in value and not value.lstrip().startswith(("{", "format")):
            raise AssayError(f"{what}={value!r}: no such file (and not {what} text)")
        return value, default_name
    raise TypeError(
        f"{what}: expected a path, the {what}'s text or a dict, not {type(value).__name__}"
    )


def profile(
    data: Any,
    slices: Optional[Iterable[SliceSpec]] = None,
    *,
    roles: Optional[Mapping[str, str]] = None,
    max_slices: int = 1000,
) -> Profile:
    """Profiles a DataFrame or Arrow data: per-column (and per-slice)
    statistics, as ``assay profile`` computes them.

    Args:
        data: a pandas or polars DataFrame, a pyarrow Table or
            RecordBatchReader, or any object with ``__arrow_c_stream__``.
        slices: slice specs; each is a column (``"sex"``), a comma-separated
            list (``"sex,race"``) or a list of columns. Every combination of
            their values becomes a slice.
        roles: column name -> role (feature, prediction, label, id,
            timestamp, weight); other columns get one from their name.
        max_slices: stop with an error beyond this many slices.

    Raises:
        AssayError: a column of an unsupported type, duplicate column names,
            too many slices, an unknown role.
    """
    return _assay.profile(
        _arrow_data(data),
        _source(data),
        _slice_specs(slices),
        list((roles or {}).items()),
        max_slices,
    )


def merge(profiles: Iterable[Profile]) -> Profile:
    """Merges profiles of the same columns and slices into one (a tree
    reduction; the CLI's ``assay merge``)."""
    return _assay.merge(list(profiles))


def infer_schema(
    profile: Profile,
    *,
    ranges: bool = False,
    max_domain_size: Optional[int] = None,
    max_int_categories: Optional[int] = None,
    categorical: Sequence[str] = (),
    toml: bool = False,
) -> Union[dict, str]:
    """Infers a schema from a profile (``assay infer``).

    Returns the schema as the CLI's ``--format json`` document (a dict), or
    with ``toml=True`` the commented TOML ``assay infer -o schema.toml``
    writes for review, which ``validate(schema=...)`` and ``drift`` read.
    """
    text = _assay.infer_schema(
        profile,
        ranges=ranges,
        max_domain_size=max_domain_size,
        max_int_categories=max_int_categories,
        categorical=list(categorical),
        toml=toml,
    )
    return text if toml else json.loads(text)


def validate(
    data: Any,
    schema: Any = None,
    suite: Any = None,
    *,
    environment: Optional[str] = None,
    result_format: Optional[str] = None,
) -> Report:
    """Validates data (or a saved Profile) against a schema and/or an
    expectation suite (``assay validate``).

    Args:
        data: a DataFrame or Arrow data, or a Profile (then only table and
            aggregate expectations of the suite can be answered).
        schema: ``schema.toml``: a path or its text.
        suite: a native TOML suite or a Great Expectations JSON suite: a
            path, its text, or (GE) a dict.
        environment: the environment the data comes from (e.g. ``serving``).
        result_format: BOOLEAN_ONLY, BASIC, SUMMARY or COMPLETE for
            expectations that do not set their own.

    Returns:
        The CLI's JSON report as a :class:`Report` (a dict); ``success`` is
        the verdict.
    """
    document, html, success = _assay.validate(
        _arrow_data(data),
        _source(data),
        schema=_text(schema, "schema", "<schema>"),
        suite=_text(suite, "suite", "<suite>"),
        environment=environment,
        result_format=result_format,
    )
    return Report(json.loads(document), html, success)


def drift(
    reference: Any,
    current: Any,
    schema: Any = None,
    *,
    method: Optional[str] = None,
    all_methods: bool = False,
    slices: Optional[Iterable[SliceSpec]] = None,
    labels: tuple[str, str] = ("reference", "current"),
) -> Report:
    """Drift between two datasets (``assay drift``): per-feature tests and
    distances, verdicts and what moved.

    Args:
        reference, current: DataFrames, Arrow data or Profiles (e.g. from
            :func:`assay.spark.profile`).
        schema: ``schema.toml`` (a path or its text): methods, thresholds,
            kinds, roles and slices per feature.
        method: use this method for every feature it applies to (ks,
            wasserstein, psi, jensenshannon, ...).
        all_methods: also compute every applicable method per feature.
        slices: compare these slices too (data sides).
        labels: how the two sides are named in the report.

    Returns:
        The CLI's JSON report as a :class:`Report`; ``success`` is False
        when drift was found.
    """
    document, html, success = _assay.drift(
        _arrow_data(reference),
        _arrow_data(current),
        labels[0],
        labels[1],
        schema=_text(schema, "schema", "<schema>"),
        method=method,
        all_methods=all_methods,
        slices=_slice_specs(slices),
    )
    return Report(json.loads(document), html, success)
