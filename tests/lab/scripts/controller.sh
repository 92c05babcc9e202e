#!/bin/sh
# JS7 Controller start script of the lab (simulates the product's bin/controller.sh; js7-engine.md §6.1-6.3).
#
# Usage: controller.sh command [options]
#   command: start | stop | restart | status | cancel | abort | kill | switch-over
#   options: --id=<id> --http-port=[iface:]port --https-port=[iface:]port --data-directory=<dir>
#            --config-directory=<dir> --timeout=<seconds|never> -f|--fail-over --java-options=<ignored>
# Exit codes (not documented for the product, js7-engine.md §9.1; lab assumption, LSB style):
#   0 done / running, 1 failed, 3 status: not running.
# The engine process is identified like the installer's GetPid: its command line contains
# "js7.controller.ControllerMain" and "--http-port=<port>" (js7-engine.md §6.3).

set -u

# JS7_CONTROLLER_USER is the run-as account: started by root, the script runs itself again as that user
# (js7-engine.md §6.3). runuser (util-linux) needs no login shell, so the account may have
# /usr/sbin/nologin; the environment (the instance script's exported variables) is kept.
if [ "$(id -u)" = 0 ] && [ -n "${JS7_CONTROLLER_USER:-}" ] && [ "$JS7_CONTROLLER_USER" != root ]; then
    if ! command -v runuser >/dev/null 2>&1; then
        echo "JS7_CONTROLLER_USER=$JS7_CONTROLLER_USER: runuser (util-linux) is needed to switch to that user" >&2
        exit 1
    fi
    exec runuser -u "$JS7_CONTROLLER_USER" -- "$0" "$@"
fi

JS7_CONTROLLER_HOME="${JS7_CONTROLLER_HOME:-$(cd "$(dirname "$0")/.." && pwd)}"
JS7_LAB_PYTHON="${JS7_LAB_PYTHON:-@LAB_PYTHON@}"

command_name=""
opt_timeout=""
opt_fail_over=0
for arg in "$@"; do
    case "$arg" in
        --id=*) JS7_CONTROLLER_ID="${arg#*=}" ;;
        --http-port=*) JS7_CONTROLLER_HTTP_PORT="${arg#*=}" ;;
        --https-port=*) JS7_CONTROLLER_HTTPS_PORT="${arg#*=}" ;;
        --data-directory=*) JS7_CONTROLLER_DATA="${arg#*=}" ;;
        --config-directory=*) JS7_CONTROLLER_CONFIG_DIR="${arg#*=}" ;;
        --timeout=*) opt_timeout="${arg#*=}" ;;
        -f|--fail-over) opt_fail_over=1 ;;
        --java-options=*|-c|--curl|--watchdog=*|--watchdog-log-stdout) ;;
        -*) echo "Unknown option: $arg" >&2; exit 1 ;;
        *) command_name="$arg" ;;
    esac
done

JS7_CONTROLLER_ID="${JS7_CONTROLLER_ID:-controller}"
JS7_CONTROLLER_HTTP_PORT="${JS7_CONTROLLER_HTTP_PORT:-4444}"
JS7_CONTROLLER_HTTPS_PORT="${JS7_CONTROLLER_HTTPS_PORT:-}"
JS7_CONTROLLER_DATA="${JS7_CONTROLLER_DATA:-${JS7_CONTROLLER_HOME}/var}"
JS7_CONTROLLER_CONFIG_DIR="${JS7_CONTROLLER_CONFIG_DIR:-${JS7_CONTROLLER_DATA}/config}"
JS7_CONTROLLER_LOGS="${JS7_CONTROLLER_LOGS:-${JS7_CONTROLLER_DATA}/logs}"
JS7_CONTROLLER_PID_FILE_DIR="${JS7_CONTROLLER_PID_FILE_DIR:-${JS7_CONTROLLER_LOGS}}"
JS7_CONTROLLER_PID_FILE_NAME="${JS7_CONTROLLER_PID_FILE_NAME:-controller.pid}"
export JS7_CONTROLLER_LOGS

pid_file="${JS7_CONTROLLER_PID_FILE_DIR}/${JS7_CONTROLLER_PID_FILE_NAME}"
run_py="${JS7_CONTROLLER_HOME}/lib/js7-lab/run.py"
start_timeout="${JS7_LAB_START_TIMEOUT:-60}"

# GetPid: ps pattern of the installer, made unique by the port (with interface) and the data directory.
# -ww: unlimited width. Without it procps cuts every line at $COLUMNS when that is set — GNU readline
# exports COLUMNS=80 into the environment of any Python that imports it (pytest, ansible), so the
# --data-directory part was cut off, `stop` found no process, returned 0 and left the engine running.
get_pid() {
    port_re=$(printf '%s' "$JS7_CONTROLLER_HTTP_PORT" | sed 's/[.]/[.]/g')
    # shellcheck disable=SC2009
    ps -ww -eo pid=,args= | grep -E "js7[.]controller[.]ControllerMain.*--http-port=${port_re}( |$)" \
        | grep -F -- "--data-directory=${JS7_CONTROLLER_DATA}" | grep -v grep | awk '{print $1}' | head -n 1
}

is_alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    # A zombie has exited already: its parent (init, after the script that started it has gone)
    # reaps it when it gets to it, which can take a second.
    [ "$(sed -n 's/^.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

wait_for_exit() {  # pid, seconds ("" = forever)
    waited=0
    while is_alive "$1"; do
        if [ -n "$2" ] && [ "$waited" -ge "$(( $2 * 10 ))" ]; then
            return 1
        fi
        sleep 0.1
        waited=$(( waited + 1 ))
    done
    return 0
}

do_start() {
    pid=$(get_pid)
    if [ -n "$pid" ]; then
        echo "JS7 Controller(${JS7_CONTROLLER_ID}) is already running with pid=${pid}"
        return 0
    fi
    mkdir -p "$JS7_CONTROLLER_LOGS" "$JS7_CONTROLLER_PID_FILE_DIR" || return 1
    https_option=""
    if [ -n "$JS7_CONTROLLER_HTTPS_PORT" ]; then
        https_option="--https-port=${JS7_CONTROLLER_HTTPS_PORT}"
    fi
    out="${JS7_CONTROLLER_LOGS}/watchdog.log"
    # shellcheck disable=SC2086
    nohup "$JS7_LAB_PYTHON" "$run_py" js7.controller.ControllerMain "--id=${JS7_CONTROLLER_ID}" \
        "--http-port=${JS7_CONTROLLER_HTTP_PORT}" $https_option "--data-directory=${JS7_CONTROLLER_DATA}" \
        "--config-directory=${JS7_CONTROLLER_CONFIG_DIR}" >"$out" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pid_file"
    waited=0
    while [ "$waited" -lt "$(( start_timeout * 10 ))" ]; do
        if ! is_alive "$pid"; then
            wait "$pid" 2>/dev/null
            rc=$?
            rm -f "$pid_file"
            echo "JS7 Controller(${JS7_CONTROLLER_ID}) could not be started (exit code ${rc}):" >&2
            cat "$out" >&2
            return 1
        fi
        if [ -f "${JS7_CONTROLLER_DATA}/work/http-uri" ] && [ "$(cat "${JS7_CONTROLLER_DATA}/state/lock" 2>/dev/null)" = "$pid" ]; then
            echo "JS7 Controller(${JS7_CONTROLLER_ID}) started with pid=${pid} ($(cat "${JS7_CONTROLLER_DATA}/work/http-uri"))"
            return 0
        fi
        sleep 0.1
        waited=$(( waited + 1 ))
    done
    echo "JS7 Controller(${JS7_CONTROLLER_ID}) pid=${pid} did not come up within ${start_timeout}s" >&2
    return 1
}

do_stop() {
    pid=$(get_pid)
    if [ -z "$pid" ]; then
        echo "JS7 Controller(${JS7_CONTROLLER_ID}) is not running"
        rm -f "$pid_file"
        return 0
    fi
    if [ "$opt_fail_over" = 1 ]; then
        opt_timeout=""   # --fail-over makes --timeout ignored (js7-engine.md §6.2)
        set -- --fail-over
    else
        set --
    fi
    if ! "$JS7_LAB_PYTHON" "$run_py" js7.lab.Control "--data-directory=${JS7_CONTROLLER_DATA}" --prefix=controller shutdown "$@"; then
        echo "ShutDown command failed; sending SIGTERM to pid=${pid}" >&2
        kill -TERM "$pid" 2>/dev/null
    fi
    timeout_seconds="$opt_timeout"
    if [ "$timeout_seconds" = "never" ]; then
        timeout_seconds=""
    fi
    if ! wait_for_exit "$pid" "$timeout_seconds"; then
        echo "JS7 Controller(${JS7_CONTROLLER_ID}) pid=${pid} did not terminate within ${timeout_seconds}s: sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null
        wait_for_exit "$pid" ""
    fi
    rm -f "$pid_file"
    echo "JS7 Controller(${JS7_CONTROLLER_ID}) terminated"
    return 0
}

do_cancel() {
    pid=$(get_pid)
    if [ -z "$pid" ]; then
        echo "JS7 Controller(${JS7_CONTROLLER_ID}) is not running"
        rm -f "$pid_file"
        return 0
    fi
    kill -KILL "$pid" 2>/dev/null
    wait_for_exit "$pid" ""
    rm -f "$pid_file"
    echo "JS7 Controller(${JS7_CONTROLLER_ID}) pid=${pid} killed"
    return 0
}

do_status() {
    pid=$(get_pid)
    if [ -n "$pid" ]; then
        echo "JS7 Controller(${JS7_CONTROLLER_ID}) is running with pid=${pid}"
        return 0
    fi
    echo "JS7 Controller(${JS7_CONTROLLER_ID}) is not running"
    return 3
}

do_switch_over() {
    if [ -z "$(get_pid)" ]; then
        echo "JS7 Controller(${JS7_CONTROLLER_ID}) is not running" >&2
        return 1
    fi
    "$JS7_LAB_PYTHON" "$run_py" js7.lab.Control "--data-directory=${JS7_CONTROLLER_DATA}" --prefix=controller switch-over
}

case "$command_name" in
    start) do_start ;;
    stop) do_stop ;;
    restart) do_stop && do_start ;;
    status) do_status ;;
    cancel|abort|kill) do_cancel ;;
    switch-over) do_switch_over ;;
    *) echo "Usage: $(basename "$0") start|stop|restart|status|cancel|switch-over [--timeout=<s>] [--fail-over]" >&2; exit 1 ;;
esac
