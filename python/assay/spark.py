"""assay on Apache Spark: profile and validate a PySpark DataFrame where its
partitions lie.

Each Spark task profiles its partition's Arrow batches (``mapInArrow``) and
returns the partial profile, serialized (``assay.profile/1`` JSON, a few KB
per column); the driver merges the partials with a tree reduction. Profiles
merge exactly (counts, sums, min/max, moments) or within their sketches'
bounds (quantiles, distinct counts, top values), so the result equals the
single-machine profile of the same data, to those bounds.

Executors need the ``assay`` package in the Python that runs their tasks
(``PYSPARK_PYTHON``), and pyarrow.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Iterator, Mapping, Optional

import assay
from assay import AssayError, Profile, Report, _assay

__all__ = ["profile", "validate"]

_SOURCE = "spark.DataFrame"


def _nested_struct_columns(schema: Any) -> list[tuple[str, str]]:
    """Top-level columns that are (or hold) structs or maps: assay profiles
    flat columns (and lists of scalars)."""
    from pyspark.sql.types import ArrayType, MapType, StructType

    found = []
    for field in schema.fields:
        kind = field.dataType
        while isinstance(kind, ArrayType):
            kind = kind.elementType
        if isinstance(kind, (StructType, MapType)):
            found.append((field.name, field.dataType.simpleString()))
    return found


def _arrow_schema(df: Any):
    """The Arrow schema of `df`'s batches, after refusing nested columns
    with a message that names them."""
    nested = _nested_struct_columns(df.schema)
    if nested:
        name, kind = nested[0]
        raise AssayError(
            f"column `{name}` has type {kind}, which cannot be profiled; expected flat columns "
            f"(integer, float, decimal, string, bool, timestamp, date or a list of them): "
            f"select its fields as columns, e.g. df.select('{name}.*'), or leave it out"
            + (f" ({len(nested) - 1} more nested column(s))" if len(nested) > 1 else "")
        )
    # The schema Spark's Arrow batches have: read off an empty result, so
    # that its type choices (large strings, time zones) are the ones tasks see.
    return df.limit(0).toArrow().schema


def _partials(df: Any, task) -> list[str]:
    """Runs `task` on every partition (mapInArrow), returns what the tasks
    yield (one JSON text each)."""
    out = df.mapInArrow(task, "partial string")
    table = out.toArrow()
    return table.column("partial").to_pylist()


def profile(
    df: Any,
    slices: Optional[Iterable[Any]] = None,
    *,
    roles: Optional[Mapping[str, str]] = None,
    max_slices: int = 1000,
) -> Profile:
    """Profiles a PySpark DataFrame: one partial profile per partition
    (``mapInArrow``), merged on the driver with a tree reduction.

    Arguments as :func:`assay.profile`. Raises :class:`assay.AssayError`
    for a column assay cannot profile (nested structs, maps, binary, ...),
    before any task runs.
    """
    import pyarrow as pa

    specs = assay._slice_specs(slices)
    role_list = list((roles or {}).items())
    schema = _arrow_schema(df)
    # The empty profile checks every column type and slice spec on the
    # driver (so bad input fails here, not in a task), and keeps an empty
    # DataFrame's profile well defined.
    empty = _assay.profile(schema.empty_table(), _SOURCE, specs, role_list, max_slices)

    def task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from assay import _assay as native

        batches = iter(batches)
        first = next(batches, None)
        if first is None:
            return
        reader = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))
        partial = native.profile(reader, _SOURCE, specs, role_list, max_slices)
        yield pa.RecordBatch.from_pydict({"partial": [partial.to_json()]})

    return _assay.merge_json([empty.to_json(), *_partials(df, task)])


def validate(
    df: Any,
    schema: Any = None,
    suite: Any = None,
    *,
    environment: Optional[str] = None,
    result_format: Optional[str] = None,
) -> Report:
    """Validates a PySpark DataFrame against a schema and/or a suite.

    The schema and the suite's table and aggregate expectations are
    answered from the distributed profile (:func:`profile` with the
    schema's slices), exactly as ``assay validate --profile`` answers them.
    """
    schema_text = assay._text(schema, "schema", "<schema>")
    slices: list[list[str]] = []
    if schema_text is not None:
        slices = _assay.schema_slices(schema_text, list(df.columns))
    merged = profile(df, slices=slices)
    return assay.validate(
        merged, schema=schema, suite=suite, environment=environment, result_format=result_format
    )
