"""The end-to-end chain from a configuration file: load → despeckle → flood map → model → Zarr.

``sarcube run CONFIG`` reads a TOML or YAML file, checks all of it (sources,
steps, parameters, model files, output paths) before anything is built, builds
the lazy chain, and writes it with :func:`sarcube.to_zarr` on the scheduler
asked for: dask's threads or processes, a new ``LocalCluster``, or an existing
dask.distributed cluster given by its address. The same plan runs in Python::

    plan = sarcube.pipeline.Pipeline.from_file("flood.toml")
    products = plan.build()          # lazy Dataset: flood, model_flood, ...
    plan.run(scheduler="tcp://scheduler:8786")

A configuration (paths are relative to the file; ``examples/*.toml`` and
``examples/*.yaml`` in the repository are complete, commented ones)::

    [source]
    stac = "catalog/collection.json"   # static catalog, or a STAC API URL
    datetime = "2024-05"
    bands = ["vv", "vh"]
    chunks = {y = 1024, x = 1024}
    # synthetic = {shape = [4096, 4096], seed = 0}   # instead of stac: no files

    [despeckle]
    filter = "lee"                     # lee, refined_lee, frost, gamma_map, boxcar, median
    size = 7

    [flood_map]
    band = "vv"
    method = "otsu"

    [predict]
    model = "ombria-s1-bitemporal"     # or "package.module:function" (see below)
    tta = "flip4"

    [output]
    zarr = "flood.zarr"
    resume = true
    cog = "flood.tif"                  # optional: the flood map as a COG

The keys each section takes come from the function it calls, so they follow
that function's signature:

``[source]``
    ``stac`` and the keyword options of :func:`sarcube.search` and
    :func:`sarcube.load`; or ``synthetic`` (the options of
    :func:`sarcube.synthetic.lazy_cube`, ``shape`` required) with ``bands`` and
    ``chunks``.
``[despeckle]``
    ``filter`` and the options of that filter (e.g. :func:`sarcube.lee_filter`).
``[flood_map]``
    the options of :func:`sarcube.flood_map`.
``[predict]``
    ``model``, ``band`` (default ``"vv"``), the model-file options of
    :class:`sarcube.infer.ModelSpec` and the options of
    :func:`sarcube.infer.predict` (``n_classes`` is the pipeline's: the output
    is no flood/flood). ``channels`` is the model's input, built by
    :func:`sarcube.models.ombria.prepare` from VV before and after (any of
    ``"before"``, ``"after"``, ``"difference"``; default the first two, or
    what the shipped model names).
``[output]``
    ``zarr``, ``resume``, ``cog``, ``thresholds`` (with ``[flood_map]
    thresholds = "regional"``: where the threshold surface is written, by
    default ``<zarr name>_thresholds.zarr`` beside the store; ``run`` computes
    that surface first, then streams the products), ``tiles`` (compute the
    threshold surface and write the products in tiles of that many chunks per
    side, see :func:`sarcube.to_zarr`: the peak memory is then that of a tile;
    with regional thresholds and a despeckle filter that needs no whole-image
    statistic, e.g. ``enl`` given, each tile's flood map and histograms are
    computed from the source cut to the tile and the chain's halo in pixels,
    :meth:`Pipeline.window_margin`, with the same result), ``report`` (a
    self-contained HTML page of the finished run, :meth:`Pipeline.report`:
    the maps' class fractions, a quicklook, the thresholds and this
    configuration).

A key a section does not take is refused with the section, the key, the
closest valid key and the list of valid ones.

``[predict] model`` is a shipped model name (:data:`sarcube.models.MODELS`),
or a model of your own as :class:`~sarcube.infer.ModelSpec` describes it:
``model = "package.module:function"`` with ``state_dict = "weights.pt"`` and
``builder_kwargs = {...}`` (the function builds the empty model, the weights
are loaded into it), ``model = "package.module:function"`` alone (the function
returns the ready model), or no ``model`` and ``exported = "model.pt2"`` (a
``torch.export`` program) or ``torchscript = "model.pt"``. Models trained
with :func:`sarcube.ml.train` (their checkpoints name their architecture and
channels) go in as ``checkpoints = ["run_a.pt", "run_b.pt"]``: one file is that
model, several an :class:`~sarcube.infer.Ensemble` of them (probabilities
averaged), each rebuilt with :meth:`~sarcube.infer.ModelSpec.from_checkpoint`
(a builder outside ``sarcube.models`` must be in the trusted modules).

The package: ``_config`` (the tables and keys a configuration may hold, checked
before anything runs; the model it names), ``_run`` (:class:`Pipeline`: build the
lazy products, write them) and ``_scheduler`` (:func:`scheduler`).
"""

from __future__ import annotations

from ._config import FILTERS
from ._run import Pipeline
from ._scheduler import scheduler

__all__ = ["FILTERS", "Pipeline", "scheduler"]
