#!/usr/bin/env bash
# Compares `callvault decode` with the usual tshark + sox route on one capture,
# side by side in one hyperfine run. Needs tshark, sox, xxd and hyperfine
# (Debian: apt-get install tshark sox xxd hyperfine).
#
#   scripts/bench-decode.sh [CAPTURE]
#
# The default capture is the 10-minute two-way PCMU call of the shared corpus.
# tshark is told the RTP port (-d) and decodes each direction's payload, sox
# expands the µ-law and merges the two into a stereo WAV: the least a
# tshark-based recorder has to do. callvault finds the streams by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
cap=${1:-../shared/testdata/pcap/generated/pcmu_long/capture.pcap}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/callvault" ./cmd/callvault

# The two directions: the busiest UDP flow's ports, from tshark itself.
read -r _ sport dport < <(tshark -r "$cap" -Y udp -T fields -e udp.srcport -e udp.dstport 2>/dev/null |
  sort | uniq -c | sort -rn | head -1)
cat > "$work/tshark.sh" <<SH
set -e
for pair in "$sport $dport" "$dport $sport"; do
  set -- \$pair
  tshark -r "$cap" -d udp.port==\$1,rtp -Y "udp.srcport==\$1 && udp.dstport==\$2 && rtp" \
    -T fields -e rtp.payload | tr -d ':\n' | xxd -r -p > "$work/dir-\$1.ul"
done
sox -M -t ul -r 8000 -c 1 "$work/dir-$sport.ul" -t ul -r 8000 -c 1 "$work/dir-$dport.ul" -b 16 "$work/tshark.wav"
SH
hyperfine --warmup 1 --runs ${RUNS:-5} --export-markdown "$work/result.md" \
  -n "callvault decode" "$work/callvault decode $cap -o $work/cv.wav" \
  -n "tshark + sox" "bash $work/tshark.sh"
cat "$work/result.md"
ls -l "$work"/*.wav
