"""ClusterState, ClusterSetting and cluster events (E§3.5, E§3.7): JSON shapes and transitions."""
from __future__ import annotations

import copy

EMPTY = {"TYPE": "Empty"}
DECOUPLED = ("NodesAppointed", "PassiveLost", "SwitchedOver", "FailedOver", "ActiveShutDown")
CLUSTER_EVENTS = (
    "ClusterNodesAppointed", "ClusterCouplingPrepared", "ClusterCoupled", "ClusterPassiveLost", "ClusterSwitchedOver",
    "ClusterFailedOver", "ClusterActiveNodeShutDown", "ClusterActiveNodeRestarted", "ClusterSettingUpdated",
    "ClusterWatchRegistered", "ClusterResetStarted")


class ClusterStateError(Exception):
    pass


def has_nodes(state):
    return state.get("TYPE") != "Empty"


def active_id(state):
    return state["setting"]["activeId"] if has_nodes(state) else None


def passive_id(state):
    if not has_nodes(state):
        return None
    return next(node for node in state["setting"]["idToUri"] if node != state["setting"]["activeId"])


def uri_of(state, node_id):
    return state["setting"]["idToUri"][node_id]


def apply_event(state, event):
    """ClusterState.applyEvent: returns the new state or raises ClusterStateError."""
    kind = event["TYPE"]
    current = state.get("TYPE")
    new = copy.deepcopy(state)

    def need(*types):
        if current not in types:
            raise ClusterStateError("%s is not applicable to ClusterState %s" % (kind, current))

    if kind == "ClusterNodesAppointed":
        need("Empty")
        return {"TYPE": "NodesAppointed", "setting": copy.deepcopy(event["setting"])}
    if kind == "ClusterCouplingPrepared":
        need(*DECOUPLED)
        if event["activeId"] != state["setting"]["activeId"]:
            raise ClusterStateError("ClusterCouplingPrepared from a non-active node")
        return {"TYPE": "PreparedToBeCoupled", "setting": new["setting"]}
    if kind == "ClusterCoupled":
        need("PreparedToBeCoupled")
        return {"TYPE": "Coupled", "setting": new["setting"]}
    if kind == "ClusterPassiveLost":
        need("Coupled", "PreparedToBeCoupled")
        return {"TYPE": "PassiveLost", "setting": new["setting"]}
    if kind == "ClusterSwitchedOver":
        need("Coupled")
        new["setting"]["activeId"] = event["activatedId"]
        return {"TYPE": "SwitchedOver", "setting": new["setting"]}
    if kind == "ClusterFailedOver":
        need("Coupled")
        new["setting"]["activeId"] = event["activatedId"]
        return {"TYPE": "FailedOver", "setting": new["setting"], "failedAt": event["failedAt"]}
    if kind == "ClusterActiveNodeShutDown":
        need("Coupled")
        return {"TYPE": "ActiveShutDown", "setting": new["setting"]}
    if kind == "ClusterActiveNodeRestarted":
        need("ActiveShutDown")
        return {"TYPE": "PassiveLost", "setting": new["setting"]}
    if kind == "ClusterSettingUpdated":
        if not has_nodes(state):
            raise ClusterStateError("ClusterSettingUpdated on Empty")
        if "passiveUri" in event:
            new["setting"]["idToUri"][passive_id(state)] = event["passiveUri"]
        if "clusterWatches" in event:
            new["setting"]["clusterWatches"] = event["clusterWatches"]
        return new
    if kind == "ClusterWatchRegistered":
        if not has_nodes(state):
            raise ClusterStateError("ClusterWatchRegistered on Empty")
        new["setting"]["clusterWatchId"] = event["clusterWatchId"]
        return new
    if kind == "ClusterResetStarted":
        return new
    raise ClusterStateError("Unknown cluster event %s" % kind)


def _scala_duration(seconds):
    return "%ss" % (int(seconds) if float(seconds).is_integer() else seconds)


def setting_string(setting):
    """Scala-like toString of a ClusterSetting, used in problem texts and log lines [assumption]."""
    uris = ", ".join("%s -> %s" % (node, uri) for node, uri in setting["idToUri"].items())
    timing = setting.get("timing", {})
    parts = ["Map(%s)" % uris, setting["activeId"],
             "ClusterTiming(%s,%s)" % (_scala_duration(timing.get("heartbeat", 3)), _scala_duration(timing.get("heartbeatTimeout", 10)))]
    if "clusterWatches" in setting:
        parts.append("List(%s)" % ", ".join("Watch(%s)" % w["uri"] for w in setting["clusterWatches"]))
    parts.append("Some(%s)" % setting["clusterWatchId"] if setting.get("clusterWatchId") else "None")
    return "ClusterSetting(%s)" % ",".join(parts)


def state_string(state):
    """ClusterState.toString as it appears in ClusterSettingNotUpdatable etc. [assumption]."""
    if not has_nodes(state):
        return "Empty"
    setting = state["setting"]
    uris = ", ".join("%s%s: %s" % (node, " (active)" if node == setting["activeId"] else "", uri)
                     for node, uri in setting["idToUri"].items())
    return "%s(%s)" % (state["TYPE"], uris)


def event_string(event):
    fields = ",".join(str(v) if not isinstance(v, dict) else "…" for k, v in event.items() if k not in ("TYPE", "eventId"))
    return "%s(%s)" % (event["TYPE"], fields)
