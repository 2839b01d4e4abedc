#!/bin/sh
# append-pipe.sh OLD NEW [LINES] [REPS]: time `capq append` of LINES records
# (default 10000) piped from a file, for two capq binaries, in REPS
# interleaved repetitions (default 3; the order alternates), each into a
# fresh queue directory under ${TMPDIR:-/tmp}. Prints every run and the
# medians, and the speed of NEW over OLD (issue 16's target: >= 5).
set -eu
old=$1 new=$2 lines=${3:-10000} reps=${4:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/append-pipe.XXXXXX")
trap 'rm -rf "$work"' EXIT
i=0
while [ "$i" -lt "$lines" ]; do
	printf '{"surface":"what the user said, in a few words","cue":"cue","n":%d}\n' "$i"
	i=$((i + 1))
done >"$work/in"
run() { # run BIN NAME REP: prints the seconds
	dir="$work/q-$2-$3"
	start=$(date +%s.%N)
	cat "$work/in" | "$1" --dir "$dir" append --max-size -1 >"$work/out"
	end=$(date +%s.%N)
	n=$(wc -l <"$work/out")
	[ "$n" -eq "$lines" ] || { echo "$2: printed $n ULIDs for $lines lines" >&2; exit 1; }
	rm -rf "$dir"
	echo "$end - $start" | bc
}
r=0
: >"$work/old.t"
: >"$work/new.t"
while [ "$r" -lt "$reps" ]; do
	if [ $((r % 2)) -eq 0 ]; then
		t=$(run "$old" old "$r"); echo "old run $r: $t s"; echo "$t" >>"$work/old.t"
		t=$(run "$new" new "$r"); echo "new run $r: $t s"; echo "$t" >>"$work/new.t"
	else
		t=$(run "$new" new "$r"); echo "new run $r: $t s"; echo "$t" >>"$work/new.t"
		t=$(run "$old" old "$r"); echo "old run $r: $t s"; echo "$t" >>"$work/old.t"
	fi
	r=$((r + 1))
done
median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mo=$(median "$work/old.t") mn=$(median "$work/new.t")
echo "median old $mo s, new $mn s, speed new/old $(echo "scale=2; $mo / $mn" | bc)"
