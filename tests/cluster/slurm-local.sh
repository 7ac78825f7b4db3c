#!/usr/bin/env bash
# A throw-away single-node SLURM (Debian 12, slurm-wlm 22.05) with two fake GPUs (gres
# gpu:fake:2), so that tests/test_cluster.py can drive profiles/slurm against a real
# scheduler. Root only.
#
# usage: tests/cluster/slurm-local.sh install|start|reap|stop
#   install  apt-get install the Debian packages (slurmctld slurmd slurm-client munge)
#   start    write /etc/slurm/{slurm,gres}.conf, start munged (if not running), slurmctld, slurmd
#   reap     cancel every job of this cluster, then kill what is left of them: their
#            slurmstepd processes and every process that carries one of their SLURM_JOB_IDs
#   stop     reap, stop exactly the daemons `start` started, remove the files it wrote
#
# State, daemon logs and the record of what was started live in $SLURM_LOCAL_DIR
# (default /tmp/slurm-local). Exit status 3 means "refused: this machine already has a
# SLURM of its own" (the test then skips instead of touching it).
#
# Facts this relies on (see the project's cluster notes):
# - slurm.conf MUST be /etc/slurm/slurm.conf: the jobstep plugin strips SLURM_* variables
#   (SLURM_CONF included) before its inner `srun`.
# - There is no slurmdbd, so no sacct: the profile uses `slurm-status-command: squeue`, and
#   MinJobAge keeps finished jobs visible to squeue/scontrol for an hour (>= 120 s), so the
#   test can still inspect the first jobs of a long run.
# - Partitions `cpu` (default) and `gpu` match profiles/slurm/partitions.yaml.
# - TaskProlog records, for every task of every job, the GPU variables SLURM set
#   (CUDA_VISIBLE_DEVICES, SLURM_JOB_GPUS, ...) in $SLURM_LOCAL_DIR/jobenv/<jobid>.<step>.
set -euo pipefail

D=${SLURM_LOCAL_DIR:-/tmp/slurm-local}
CONF=/etc/slurm/slurm.conf
GRES=/etc/slurm/gres.conf
MARK="# written by advtransfer tests/cluster/slurm-local.sh"
PACKAGES=(slurmctld slurmd slurm-client munge)

ours() { [ -f "$1" ] && grep -qF "$MARK" "$1"; }
have_binaries() {
  command -v slurmctld && command -v slurmd && command -v sbatch && command -v munged
} >/dev/null 2>&1

wait_gone() {  # wait_gone PID: up to 15 s for a process to exit
  for _ in $(seq 150); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

job_ids() {  # this cluster's jobs: queued or recent (MinJobAge), seen by TaskProlog or by reap
  {
    squeue -h -o %A 2>/dev/null || true
    if [ -d "$D/jobenv" ]; then ls "$D/jobenv"; fi | sed 's/\..*//'
    if [ -f "$D/job-ids" ]; then cat "$D/job-ids"; fi
  } | grep -E '^[0-9]+$' | sort -un || true
}

job_pids() {  # job_pids ID...: slurmstepd of those jobs and the processes that run them
  # bash builtins only (mapfile), no process per /proc entry: a scan of a few hundred
  # processes against a hundred job ids stays well under a second
  local p pid cmd entry jid id
  local -A wanted=()
  for id in "$@"; do wanted[$id]=1; done
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ "$pid" = "$$" ] && continue
    local -a argv=() envs=()
    mapfile -d '' -t argv 2>/dev/null < "$p/cmdline" || continue
    cmd="${argv[*]}"
    # slurmstepd names itself "slurmstepd: [<job>.<step>]"
    if [[ "$cmd" =~ ^slurmstepd:\ \[([0-9]+)\. ]] && [ -n "${wanted[${BASH_REMATCH[1]}]:-}" ]; then
      echo "$pid"
      continue
    fi
    # SLURM sets SLURM_JOB_ID in the environment of every batch script and task (python
    # scripts of the rules included)
    mapfile -d '' -t envs 2>/dev/null < "$p/environ" || continue
    jid=""
    for entry in "${envs[@]}"; do
      if [[ "$entry" == SLURM_JOB_ID=* ]]; then jid=${entry#SLURM_JOB_ID=}; break; fi
    done
    if [ -n "$jid" ] && [ -n "${wanted[$jid]:-}" ]; then echo "$pid"; fi
  done
  return 0
}

reap() {  # cancel every job, give SLURM 30 s to end them, then kill what is left
  local ids pids
  ids=$(job_ids)
  # remembered for the reap after the daemons are gone (squeue no longer answers then)
  if [ -n "$ids" ]; then echo "$ids" > "$D/job-ids"; fi
  if pgrep -x slurmctld >/dev/null; then
    scancel --full --quiet --partition=cpu,gpu 2>/dev/null || true
    for _ in $(seq 150); do
      [ -z "$(squeue -h -t running,completing,pending,suspended 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086  # one id per word
  pids=$(job_pids $ids)
  [ -n "$pids" ] || return 0
  echo "slurm-local: killing leftovers of jobs $(echo $ids): pids $(echo $pids)" >&2
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for pid in $pids; do wait_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true; done
}

case "${1:-}" in
install)
  have_binaries && exit 0
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
  ;;

start)
  [ "$(id -u)" = 0 ] || { echo "slurm-local: needs root" >&2; exit 3; }
  have_binaries || { echo "slurm-local: SLURM packages missing (run install)" >&2; exit 3; }
  if [ -e "$CONF" ] && ! ours "$CONF"; then
    echo "slurm-local: $CONF belongs to another SLURM installation; not touching it" >&2
    exit 3
  fi
  if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
    if ! [ -s "$D/started" ]; then
      echo "slurm-local: a SLURM daemon not started by this script is running" >&2
      exit 3
    fi
    "$0" stop   # leftovers of an earlier run of this script
  fi

  rm -rf "$D"
  mkdir -p "$D"/{state,spool,log,jobenv} /run/munge
  : > "$D/started"

  # munge: reuse a running munged, otherwise start one and remember it
  [ -s /etc/munge/munge.key ] || mungekey --create
  if ! pgrep -x munged >/dev/null; then
    chown munge:munge /run/munge
    runuser -u munge -- /usr/sbin/munged
    echo munged >> "$D/started"
  fi

  for i in 0 1; do
    if ! [ -e /dev/fakegpu$i ]; then
      mknod -m 666 /dev/fakegpu$i c 1 3   # a /dev/null clone stands in for a GPU
      echo "/dev/fakegpu$i" >> "$D/devices"
    fi
  done

  cat > "$D/task-prolog.sh" <<'PROLOG'
#!/bin/sh
# SLURM TaskProlog: record the GPU environment SLURM gave this task.
out="${SLURM_LOCAL_DIR}/jobenv/${SLURM_JOB_ID}.${SLURM_STEP_ID:-batch}"
env | grep -E '^(CUDA_VISIBLE_DEVICES|SLURM_JOB_GPUS|SLURM_STEP_GPUS|GPU_DEVICE_ORDINAL|SLURM_JOB_PARTITION|SLURM_JOB_ID|SLURM_STEP_ID)=' > "$out" || true
PROLOG
  sed -i "s|\${SLURM_LOCAL_DIR}|$D|" "$D/task-prolog.sh"
  chmod 755 "$D/task-prolog.sh"

  # leave 1 GiB to the system; jobs ask for memory (CR_Core_Memory makes it consumable)
  mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024) - 1024}' /proc/meminfo)
  mkdir -p /etc/slurm
  cat > "$CONF" <<CONF_END
$MARK (SLURM_LOCAL_DIR=$D)
ClusterName=localcluster
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
TaskProlog=$D/task-prolog.sh
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
MinJobAge=3600
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem_mb Gres=gpu:fake:2 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost Default=NO MaxTime=INFINITE State=UP
CONF_END
  cat > "$GRES" <<GRES_END
$MARK
AutoDetect=off
NodeName=localhost Name=gpu Type=fake File=/dev/fakegpu[0-1]
GRES_END

  /usr/sbin/slurmctld -c   # daemonizes; -c: start with an empty job queue
  echo slurmctld >> "$D/started"
  /usr/sbin/slurmd -N localhost
  echo slurmd >> "$D/started"
  for _ in $(seq 60); do
    sinfo -h -o %T 2>/dev/null | grep -qx idle && break
    sleep 0.5
  done
  sinfo -h -o %T 2>/dev/null | grep -qx idle || {
    echo "slurm-local: node did not become idle" >&2
    sinfo -N -l >&2 || true
    tail -n 30 "$D/log/slurmctld.log" "$D/log/slurmd.log" >&2 || true
    exit 1
  }
  sinfo -o "%P %N %c %m %G %T"
  ;;

reap)
  [ -e "$D/started" ] || exit 0
  reap
  ;;

stop)
  [ -e "$D/started" ] || exit 0
  reap
  for daemon in slurmd slurmctld; do
    # the pid files live in this script's state directory: what they name, it started
    # (also when `start` was cut short before recording the daemon in $D/started)
    if [ -s "$D/$daemon.pid" ]; then
      pid=$(cat "$D/$daemon.pid")
      kill "$pid" 2>/dev/null || true
      wait_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
  done
  # jobs whose slurmstepd outlived slurmd (a step that ignored the cancel): kill them too
  reap
  if grep -qx munged "$D/started" && [ -s /run/munge/munged.pid ]; then
    pid=$(cat /run/munge/munged.pid)
    kill "$pid" 2>/dev/null || true
    wait_gone "$pid" || true
  fi
  [ -s "$D/devices" ] && xargs -r rm -f < "$D/devices"
  for f in "$CONF" "$GRES"; do ours "$f" && rm -f "$f"; done
  : > "$D/started"
  ;;

*)
  echo "usage: $0 install|start|stop" >&2
  exit 2
  ;;
esac
