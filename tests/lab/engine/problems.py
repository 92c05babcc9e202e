"""JS7 Problem JSON: codes, messages (messages-en.conf) and HTTP status (E§3.3)."""
from __future__ import annotations

# code -> (HTTP status, message template). Templates use $name placeholders as messages-en.conf.
CATALOGUE = {
    "ClusterNodeIsNotBackup": (400, "The cluster node to be appointed is not configured as a backup node"),
    "PrimaryClusterNodeMayNotBecomeBackup": (
        400, "The cluster node has already been started as a primary node and may not be configured as a backup node afterwards"),
    "BackupClusterNodeNotAppointed": (503, "This backup cluster node has not yet been appointed"),
    "ClusterNodeIsNotActive": (503, "This cluster node is not (yet) active"),
    "ClusterNodeIsNotReady": (503, "Cluster node is not ready yet"),
    "ClusterModuleShuttingDown": (503, "Cluster module is shutting down"),
    "ShuttingDown": (503, "JS7 server is shutting down"),
    "ClusterSettingNotUpdatable": (400, "Current ClusterState cannot be updated: $clusterState"),
    "ClusterCommandInapplicable": (400, "Command $command is not applicable for current ClusterState $clusterState"),
    "ClusterSwitchOverButNotCoupled": (
        400, "Switchover is possible only for the active and coupled cluster node, but cluster state is: $clusterState"),
    "PassiveClusterNodeShutdownNotAllowed": (400, "A passive cluster node can handle ShutDown command only without clusterAction"),
    "NoClusterWatch": (400, "No ClusterWatch has registered itself"),
    "UntaughtClusterWatch": (
        400, "ClusterWatch has not yet been taught by the active cluster, so it has to reject the ClusterFailedOver event"),
    "ClusterWatchIdDoesNotMatch": (400, "$rejectedClusterWatchId tried to confirm a request directed to $requestedClusterWatchId"),
    "OtherClusterWatchStillAlive": (
        400, "Other ClusterWatch '$otherClusterWatchId' is still alive, so '$rejectedClusterWatchId' is rejected"),
    "ClusterWatchRequestDoesNotMatch": (400, "ClusterWatchRequestDoesNotMatch"),
    "ClusterWatchHeartbeatMismatch": (
        400, "ClusterWatch rejected heartbeat from '$from', because clusterState=$clusterState does not match the registered $registered"),
    "ClusterWatchEventMismatch": (
        400, "ClusterWatch rejected events from '$from', because clusterState=$clusterState does not match the registered $registered"),
    "ClusterWatchInactiveNode": (
        400, "ClusterWatch rejected '$operation' from inactive cluster node '$from', because clusterState=$clusterState"
             " ($lastHeartbeat ago)"),
    "ClusterFailOverWhilePassiveLost": (
        400, "ClusterFailedOver event rejected due PassiveLost state (probably caused by a concurrent ClusterPassiveLost event)"),
    "InvalidSessionToken": (403, "Invalid session token"),
    "InvalidLogin": (401, "Login: unknown user or invalid password"),
    "EventSeqTorn": (400, "Requested EventId after=$requestedAfter is not available. Oldest available EventId is $tornEventId"),
    "UnknownOrder": (400, "Unknown OrderId: $orderId"),
    "DuplicateKey": (400, "Duplicate $key"),
}

# ≤ v2.5 wording differs for some problems (E§3.3 table).
LEGACY_MESSAGES = {
    "ClusterSettingNotUpdatable": "ClusterState cannot be updated in this state",
}

STATUS_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 413: "Payload Too Large",
    500: "Internal Server Error", 503: "Service Unavailable",
}


class Problem(Exception):
    """A JS7 Problem; ``status`` is the HTTP status used when it is the answer of a request."""

    def __init__(self, code=None, message=None, arguments=None, status=None, legacy=False):
        self.code = code
        self.arguments = dict(arguments or {})
        default_status, template = CATALOGUE.get(code, (400, None)) if code else (400, None)
        if legacy and code in LEGACY_MESSAGES:
            template = LEGACY_MESSAGES[code]
            self.arguments = {}
        if message is None:
            if template is None:
                # A code without an entry gets the code itself plus (k=v, ...) (CodedMessages)
                message = code or "Problem"
                if self.arguments:
                    message += " (" + ", ".join("%s=%s" % kv for kv in self.arguments.items()) + ")"
            else:
                message = template
                for key in sorted(self.arguments, key=len, reverse=True):
                    message = message.replace("$" + key, str(self.arguments[key]))
        self.message = message
        self.status = status or default_status
        super().__init__(self.render())

    def to_json(self) -> dict:
        obj = {"TYPE": "Problem"}
        if self.code:
            obj["code"] = self.code
            if self.arguments:
                obj["arguments"] = {k: str(v) for k, v in self.arguments.items()}
        obj["message"] = self.message
        return obj

    def render(self) -> str:
        """`Code: message` as the text/plain marshaller and the client exception print it."""
        return "%s: %s" % (self.code, self.message) if self.code else self.message

    @classmethod
    def from_json(cls, obj, status=None):
        return cls(code=obj.get("code"), message=obj.get("message"), arguments=obj.get("arguments"), status=status)
