#!/usr/bin/env bash
# The seed's runbook performed by hand on the lab, printed as a transcript (issue 3's resolution).
#
#   tests/lab/runbook_transcript.sh standalone-secondary   # JS7 2.7.1: runbook phase 1 couples
#   tests/lab/runbook_transcript.sh stale-watch            # JS7 2.5.9: phase 1 cannot couple, phase 2 does
#
# Run from the repository root. Only what an operator has is used: the instance scripts, rm, sed,
# grep and curl against the Controller and JOC APIs. Local mode; JS7_LAB_LOOPBACK_NET picks the
# addresses (default 127.79.0), LAB_DIR the lab's directory (default /tmp/lab-transcript-<state>).
set -u

state="${1:-standalone-secondary}"
case "$state" in
    standalone-secondary) version=2.7 ;;
    stale-watch) version=2.5 ;;
    *) echo "usage: $0 standalone-secondary|stale-watch" >&2; exit 2 ;;
esac
python="${PYTHON:-.venv/bin/python}"
net="${JS7_LAB_LOOPBACK_NET:-127.79.0}"
lab="${LAB_DIR:-/tmp/lab-transcript-$state}"
hosts="$lab/hosts"
controller_data=var/sos-berlin.com/js7/controller/var
primary_home="$hosts/c1-primary/opt/sos-berlin.com/js7/controller"
secondary_home="$hosts/c1-secondary/opt/sos-berlin.com/js7/controller"
agent_home="$hosts/c1-agent/opt/sos-berlin.com/js7/agent"
primary_log="$hosts/c1-primary/$controller_data/logs/controller.log"
secondary_log="$hosts/c1-secondary/$controller_data/logs/controller.log"
secondary_state="$hosts/c1-secondary/$controller_data/state"
secondary_conf="$hosts/c1-secondary/$controller_data/config/controller.conf"
agent_state="$hosts/c1-agent/var/sos-berlin.com/js7/agent/var_4445/state"
joc_log="$hosts/joc/var/sos-berlin.com/js7/joc/jetty_base/logs/joc.log"
primary="http://$net.11:4444"
secondary="http://$net.12:4444"
agent="http://$net.13:4445"
joc="http://$net.2:4446/joc/api"

run() {  # print the command as typed, then its output and exit code
    printf '\n$ %s\n' "$*"
    bash -c "$*" 2>&1
    printf '  [rc=%d]\n' "$?"
}

note() {
    printf '\n## %s\n' "$*"
}

joc_post() {  # path, JSON body[, jq filter]: a JOC API call with the session token (J§1.1)
    if [ -n "${3:-}" ]; then
        run "curl -s -X POST -H 'X-Access-Token: $token' -H 'Content-Type: application/json' -d '$2' $joc/$1 | jq -c '$3'"
    else
        run "curl -s -X POST -H 'X-Access-Token: $token' -H 'Content-Type: application/json' -d '$2' $joc/$1; echo"
    fi
}

components='{clusterState: .clusterState._text, nodes: [.controllers[] | {role, isCoupled, node: .clusterNodeState._text}]}'


event_id() {
    curl -s "$1/controller/api/cluster" | jq -r .eventId
}

printf '# Runbook by hand on the JS7 lab: state %s, JS7 %s, local mode, hosts on %s.x\n' "$state" "$version" "$net"
printf '# %s; host roots under %s/<host>/\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$hosts"
"$python" -m tests.lab down --dir "$lab" >/dev/null 2>&1
run "JS7_LAB_LOOPBACK_NET=$net $python -m tests.lab up --state $state --version $version --dir $lab"

note "The symptom: the Primary's WARN line at every retry, the error in joc.log, NodesAppointed"
run "grep -m1 'WARN .*ClusterNodeIsNotBackup' $primary_log"
run "grep -m1 'ERROR .*ClusterNodeIsNotBackup' $joc_log"
run "curl -s $primary/controller/api/cluster; echo"
run "curl -s '$secondary/controller/api/cluster?return=ClusterNodeState'; echo"
run "ls $secondary_state"
token=$(curl -s -X POST -u root:root "$joc/authentication/login" -D - -o /dev/null | tr -d '\r' \
        | awk -F': ' 'tolower($1) == "x-access-token" {print $2}')
printf '\n$ curl -s -X POST -u root:root %s/authentication/login -D - | grep -i x-access-token\nX-Access-Token: %s\n' \
    "$joc" "$token"
joc_post controller/components '{"controllerId":"controller1"}' "$components"
if [ "$state" = stale-watch ]; then
    note "Why it is stale: the watch Agent still holds the previous incarnation, in which the Secondary (Backup) was active"
    run "curl -s '$agent/agent/api/clusterWatch?controllerId=controller1'; echo"
    run "grep -m1 'WARN .*ClusterWatchInactiveNode' $primary_log"
fi

note "Runbook phase 1: shut down the Secondary, delete its state/ contents, (set is-backup), start it, re-submit in JOC"
run "$secondary_home/bin/controller_instance.sh stop"
run "rm -rf $secondary_state/*"
run "ls -A $secondary_state"
run "sed -i 's/^[# ]*js7.journal.cluster.node.is-backup.*/js7.journal.cluster.node.is-backup = yes/' $secondary_conf"
run "grep is-backup $secondary_conf"
run "$secondary_home/bin/controller_instance.sh start"
after=$(event_id "$primary")
joc_post controllers/p '{"controllerId":"controller1"}'
joc_post controller/test "{\"controllerId\":\"controller1\",\"url\":\"$primary\"}"
joc_post controller/test "{\"controllerId\":\"controller1\",\"url\":\"$secondary\"}"
watcher=""
if [ "$version" = 2.5 ]; then
    watcher=",\"clusterWatcher\":{\"agentId\":\"agent1\",\"agentName\":\"agent1\",\"url\":\"$agent\"}"
fi
joc_post controller/register "{\"controllerId\":\"controller1\",\"controllers\":[{\"url\":\"$primary\",\"clusterUrl\":\"$primary\",\"role\":\"PRIMARY\",\"title\":\"PRIMARY\"},{\"url\":\"$secondary\",\"clusterUrl\":\"$secondary\",\"role\":\"BACKUP\",\"title\":\"SECONDARY\"}]$watcher}"

if [ "$state" = standalone-secondary ]; then
    note "Coupled: waiting on the Primary's event stream (E§3.8), up to the runbook's 60 s"
    run "curl -s -H 'Accept: application/x-ndjson' '$primary/controller/api/event?return=ClusterCoupled&after=$after&timeout=60&limit=1'"
else
    # the runbook's "approx. 120 s", times the lab's time scale (0.2)
    note "Not coupled after the runbook's approx. 120 s (24 s at the lab's time scale 0.2): the event stream stays empty"
    run "curl -s -H 'Accept: application/x-ndjson' '$primary/controller/api/event?return=ClusterCouplingPrepared,ClusterCoupled&after=$after&timeout=24&limit=1'; echo '(no event)'"
    run "curl -s $primary/controller/api/cluster; echo"
    run "grep 'ClusterPrepareCoupling.*failed' $secondary_log | tail -n 2"
    run "grep 'WARN .*HttpClusterWatch' $primary_log | tail -n 2"

    note "Runbook phase 2: shut down the Primary, delete the Secondary's state/ contents (the Secondary must be stopped for that - the runbook does not say so: a running node holds state/lock), shut down the Cluster Watch Agent, delete its state/ contents, start the Agent, start the Primary (and the Secondary again)"
    run "$primary_home/bin/controller_instance.sh stop"
    run "$secondary_home/bin/controller_instance.sh stop"
    run "rm -rf $secondary_state/*"
    run "$agent_home/bin/agent_4445.sh stop"
    run "rm -rf $agent_state/*"
    run "$agent_home/bin/agent_4445.sh start"
    run "$primary_home/bin/controller_instance.sh start"
    after=$(event_id "$primary")
    run "$secondary_home/bin/controller_instance.sh start"
    note "Coupled within the runbook's 60 s: waiting on the Primary's event stream (E§3.8)"
    run "curl -s -H 'Accept: application/x-ndjson' '$primary/controller/api/event?return=ClusterCoupled&after=$after&timeout=60&limit=1'"
    run "curl -s '$agent/agent/api/clusterWatch?controllerId=controller1'; echo"
fi
run "curl -s $primary/controller/api/cluster; echo"
joc_post controller/components '{"controllerId":"controller1"}' "$components"
run "$python -m tests.lab down --dir $lab"
