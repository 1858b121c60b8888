"""Service graphs, mesh states, actions and features (the only model-side user of networkx)."""

from aither_wm.graph.actions import ACTION_TYPES, TARGETED_TYPES, ActionSpace
from aither_wm.graph.features import (
    FEATURE_DIM,
    METRIC_DIM,
    NUM_RELATIONS,
    STRUCT_DIM,
    GraphBatch,
    collate,
    featurize,
)
from aither_wm.graph.schema import SERVICE_KINDS, ServiceGraph, graph_from_dict, load_graph
from aither_wm.graph.state import (
    SCHEMA_VERSION,
    Action,
    ActionType,
    MeshState,
    ServiceState,
    Transition,
    healthy_version,
    nominal_service_state,
    parse_state,
)

__all__ = [
    "ACTION_TYPES",
    "FEATURE_DIM",
    "METRIC_DIM",
    "NUM_RELATIONS",
    "SCHEMA_VERSION",
    "SERVICE_KINDS",
    "STRUCT_DIM",
    "TARGETED_TYPES",
    "Action",
    "ActionSpace",
    "ActionType",
    "GraphBatch",
    "MeshState",
    "ServiceGraph",
    "ServiceState",
    "Transition",
    "collate",
    "featurize",
    "graph_from_dict",
    "healthy_version",
    "load_graph",
    "nominal_service_state",
    "parse_state",
]
