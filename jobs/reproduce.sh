#!/usr/bin/env bash
# The reproduction of docs/reproduction.md on one machine: trains E1, E3, E2, E5, E4 and E1 with
# VGG19 (3 seeds each, one MPI rank per seed), runs the re-initialization grid of E1, E5 and E1-VGG19,
# and writes the reports with the claim table (VGG19's in report_vgg19/). Every step continues what
# an earlier call left (hpa-train --resume from its checkpoint, the grid from its reinit.h5): run the
# same command again after a stop or a crash.
#   bash jobs/reproduce.sh [EXPERIMENT ...]      EXPERIMENT: e1 e3 e2 e5 e4 e1v (default: all, this order)
#   HPA_REPRO_DIR    where the runs go                        default runs/repro
#   HPA_BUILD_DIR    a build with src/hpa-train, src/hpa-reinit-grid, hpa-report
#                                                             default build/release (built if absent)
#   HPA_THREADS      threads per rank                         default: cores / 3, at least 1
# Wall times of every step are appended to $HPA_REPRO_DIR/times.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."

repro=${HPA_REPRO_DIR:-runs/repro}
build=${HPA_BUILD_DIR:-build/release}
data=runs/fashion_mnist_cifar
ranks=3  # one per seed: seeds = 0-2 in every job
threads=${HPA_THREADS:-$(( $(nproc) / ranks > 0 ? $(nproc) / ranks : 1 ))}
grid_epochs=0,1,2,3,5,8,16,24
experiments=("$@")
[[ ${#experiments[@]} -gt 0 ]] || experiments=(e1 e3 e2 e5 e4 e1v)
for experiment in "${experiments[@]}"; do
  case $experiment in e1|e2|e3|e4|e5|e1v) ;; *) echo "reproduce.sh: unknown experiment '$experiment' (e1 e2 e3 e4 e5 e1v)" >&2; exit 2;; esac
done

if [[ ! -x $build/src/hpa-train && -z ${HPA_BUILD_DIR:-} ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release -j "$(nproc)" --target hpa-train hpa-reinit-grid
fi
for program in src/hpa-train src/hpa-reinit-grid hpa-report; do
  [[ -x $build/$program ]] || { echo "reproduce.sh: $build/$program is missing (HPA_BUILD_DIR)" >&2; exit 2; }
done
if [[ ! -f $data/test_batch.bin ]]; then
  python3 src/bench/make_cifar_from_fashion_mnist.py /usr/share/datasets/fashion-mnist "$data"
fi
mkdir -p "$repro"
[[ $EUID -ne 0 ]] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # Open MPI refuses root otherwise
mpi=(mpirun -np "$ranks" --oversubscribe --bind-to none)

# step NAME JOB COMMAND...: runs COMMAND and appends its wall time and exit status to times.tsv.
step() {
  local name=$1 job=$2 start status
  shift 2
  start=$(date +%s)
  echo "== $job: $name ($(date -u +%FT%TZ))"
  set +e
  "$@"
  status=$?
  set -e
  printf '%s\t%s\t%s\t%d\t%d\t%s\n' "$job" "$name" "$(date -u -d "@$start" +%FT%TZ)" "$(( $(date +%s) - start ))" \
    "$status" "$(hostname)" >>"$repro/times.tsv"
  return "$status"
}

train() {  # JOB
  local job=$1 mode=()
  [[ -f $repro/$job/run.h5 ]] && mode=(--resume)
  step training "$job" "${mpi[@]}" "$build/src/hpa-train" --config "jobs/$job.cfg" --out "$repro/$job" \
    --threads "$threads" --checkpoint-minutes 10 "${mode[@]}"
}

grid() {  # JOB
  step grid "$1" "${mpi[@]}" "$build/src/hpa-reinit-grid" "$repro/$1" --epochs "$grid_epochs" --rerandomize 1 \
    --threads "$threads"
}

for experiment in "${experiments[@]}"; do
  case $experiment in
    e1) train repro_e1_step && grid repro_e1_step ;;
    e2) train repro_e2_random_labels ;;
    e3) train repro_e3_normal001 ;;
    e4) train repro_e4_clean && train repro_e4_pixel_shuffle ;;
    e5) train repro_e5_smooth && grid repro_e5_smooth ;;
    e1v) train repro_e1_vgg19 && grid repro_e1_vgg19 ;;
  esac
done

# The report covers whatever has been run so far; roles without a run are reported as not run.
claims=()
for role in E1:repro_e1_step E2:repro_e2_random_labels E3:repro_e3_normal001 E4:repro_e4_pixel_shuffle \
            E4-clean:repro_e4_clean E5:repro_e5_smooth; do
  [[ -f $repro/${role#*:}/run.h5 ]] && claims+=(--claim "${role%%:*}=$repro/${role#*:}")
done
if [[ ${#claims[@]} -gt 0 ]]; then
  "$build/hpa-report" "${claims[@]}" --out "$repro/report" \
    --data-label "Fashion-MNIST in CIFAR-10's binary format (32×32, grey repeated over 3 channels; not CIFAR-10)"
  echo "report: $repro/report/reproduction.md"
fi
if [[ -f $repro/repro_e1_vgg19/run.h5 ]]; then  # VGG19 answers the claims E1 answers (C1-C3, C9), on its own
  "$build/hpa-report" --claim "E1=$repro/repro_e1_vgg19" --out "$repro/report_vgg19" \
    --data-label "Fashion-MNIST in CIFAR-10's binary format (32×32, grey repeated over 3 channels; not CIFAR-10)"
  echo "report: $repro/report_vgg19/reproduction.md"
fi
