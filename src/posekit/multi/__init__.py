"""posekit.multi: several animals in one video.

* :func:`assemble` groups one frame's keypoint candidates into individuals, scoring candidate
  pairs along edges with a pluggable edge scorer (:class:`PafScorer` for a bottom-up
  network's part affinity fields, :class:`DistancePriorScorer` for edge lengths learned from
  labels by :func:`learn_edge_priors`); :func:`choose_edges` picks the edges from labels.
* :func:`track_individuals` links the individuals of successive frames into tracklets
  (:func:`link_tracklets`) and stitches those into a fixed number of tracks
  (:func:`stitch_tracklets`).
"""

from posekit.multi.assembly import AssemblyOptions, assemble, assemble_frames, pick_unique
from posekit.multi.edges import choose_edges, edge_indices, pair_costs
from posekit.multi.errors import MultiAnimalError
from posekit.multi.scoring import (
    DistancePriorScorer,
    EdgePriors,
    EdgeScorer,
    PafScorer,
    combine_scorers,
    learn_edge_priors,
    paf_edge_score,
)
from posekit.multi.stitching import StitchOptions, Tracklet, stitch_tracklets
from posekit.multi.tracking import (
    TrackingOptions,
    estimate_scale,
    link_tracklets,
    track_individuals,
)

__all__ = [
    "AssemblyOptions",
    "DistancePriorScorer",
    "EdgePriors",
    "EdgeScorer",
    "MultiAnimalError",
    "PafScorer",
    "StitchOptions",
    "TrackingOptions",
    "Tracklet",
    "assemble",
    "assemble_frames",
    "choose_edges",
    "combine_scorers",
    "edge_indices",
    "estimate_scale",
    "learn_edge_priors",
    "link_tracklets",
    "paf_edge_score",
    "pair_costs",
    "pick_unique",
    "stitch_tracklets",
    "track_individuals",
]
