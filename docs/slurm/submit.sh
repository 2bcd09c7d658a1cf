#!/bin/bash
# Submit sclesion on a SLURM cluster: one array task per subject, then the group level.
#
#   export BIDS_DIR=/project/ms/bids OUT_DIR=/project/ms/derivatives/sclesion-0.1.0
#   export SIF=/project/images/sclesion-0.1.0.sif
#   docs/slurm/submit.sh [sclesion arguments for the participant level, e.g. --device cuda]
#
# It first checks the dataset once (a dry run of the image: BIDS validation and the sequences
# found per subject), so the array tasks skip the validation. MAX_PARALLEL caps how many tasks
# run at once; LABELS_DIR is passed on to the group level. Pass sbatch options (--account,
# --partition, --gpus) through SBATCH_* variables, e.g. SBATCH_ACCOUNT, SBATCH_PARTITION.
# The group level waits for every task to end (afterany) and tabulates those that finished.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${BIDS_DIR:?export BIDS_DIR, the input BIDS dataset}"
: "${OUT_DIR:?export OUT_DIR, the derivatives folder}"
: "${SIF:?export SIF, the sclesion .sif image}"
export BIDS_DIR OUT_DIR SIF

n=$(awk -F '\t' 'NR > 1 && NF > 0' "$BIDS_DIR/participants.tsv" | wc -l)
if ((n == 0)); then
    echo "no subjects listed in $BIDS_DIR/participants.tsv" >&2
    exit 1
fi

apptainer run --cleanenv --containall -B "$BIDS_DIR:/data:ro" \
    "$SIF" /data /tmp/out participant --dry-run "$@"

array=$(sbatch --parsable --array="1-${n}${MAX_PARALLEL:+%$MAX_PARALLEL}" \
    "$here/participant.sbatch" --skip-bids-validation "$@")
group=$(sbatch --parsable --dependency="afterany:${array%%;*}" \
    "$here/group.sbatch" --skip-bids-validation)
echo "participant array ${array%%;*} ($n subjects), group job ${group%%;*}"
