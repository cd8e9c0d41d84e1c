#!/usr/bin/env bash
# Runs every fuzz target of the module for the same time each, one after
# another, and keeps what they found.
#
#   scripts/fuzz.sh [TIME] [PACKAGE...]     TIME as go test -fuzztime: 10m (the default), 30s, 1h
#
# The targets are found with `go test -list '^Fuzz'` in every package (or
# in the packages named). Each runs with `go test -run '^$' -fuzz '^Name$'`;
# its progress lines go to stderr, and a summary table at the end gives for
# each target the time, the executions, the new inputs it found, how many
# of them were kept, and ok or FAIL. The exit status is 1 if any target
# failed.
#
# What is kept, and why so:
#   - A failing input: go test writes it to the package's
#     testdata/fuzz/<Target>/ itself. Commit it with the fix; it stays a
#     regression case that every plain `go test` runs.
#   - New coverage: go test keeps the inputs that reached new code in its
#     cache ($(go env GOCACHE)/fuzz/…), where the next run on this machine
#     starts from them. The script copies those found in this run into
#     testdata/fuzz/<Target>/ too, so that the coverage they reached is
#     checked by every `go test` and survives on other machines and CI,
#     but at most FUZZ_KEEP_MAX (default 20) per target and run, the
#     smallest first: small inputs are the ones a reader can follow, and a
#     cap keeps ten-minute runs from adding thousands of files to the
#     repository. The rest stay in the cache. Inputs are named by their
#     content's hash, so copying the same one twice adds nothing.
#
# FUZZ_PARALLEL sets go test -parallel (the fuzzing workers; default: one
# per CPU). Set FUZZ_KEEP_MAX=0 to keep nothing new.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fuzztime=${1:-10m}
shift || true
keep_max=${FUZZ_KEEP_MAX:-20}
parallel=()
if [[ -n ${FUZZ_PARALLEL:-} ]]; then
	parallel=(-parallel "$FUZZ_PARALLEL")
fi
if [[ $# -gt 0 ]]; then
	mapfile -t pkgs < <(go list "$@")
else
	mapfile -t pkgs < <(go list ./...)
fi
cache=$(go env GOCACHE)/fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rows=()
failed=0
total_targets=0
for pkg in "${pkgs[@]}"; do
	mapfile -t targets < <(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
	[[ ${#targets[@]} -eq 0 ]] && continue
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for t in "${targets[@]}"; do
		total_targets=$((total_targets + 1))
		corpus=$cache/$pkg/$t
		(ls "$corpus" 2>/dev/null || true) | sort >"$work/before"
		echo "== $pkg $t for $fuzztime" >&2
		start=$(date +%s)
		set +e
		go test -run '^$' -fuzz "^$t\$" -fuzztime "$fuzztime" "${parallel[@]}" "$pkg" 2>&1 | tee "$work/log" | sed -u "s/^/   /" >&2
		status=${PIPESTATUS[0]}
		set -e
		took=$(($(date +%s) - start))
		# The last progress line has the totals: "fuzz: elapsed: 10s, execs:
		# 123 (12/sec), new interesting: 4 (total: 20)".
		last=$(grep -E '^fuzz: elapsed' "$work/log" | tail -1 || true)
		execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
		found=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
		(ls "$corpus" 2>/dev/null || true) | sort >"$work/after"
		kept=0
		if [[ $keep_max -gt 0 ]]; then
			mkdir -p "$dir/testdata/fuzz/$t"
			# The inputs new in this run, smallest first.
			while read -r f; do
				[[ -z $f || $kept -ge $keep_max ]] && break
				if [[ ! -e $dir/testdata/fuzz/$t/$f ]]; then
					cp "$corpus/$f" "$dir/testdata/fuzz/$t/$f"
					kept=$((kept + 1))
				fi
			done < <(comm -13 "$work/before" "$work/after" | while read -r f; do
				[[ -n $f ]] && printf '%s %s\n' "$(wc -c <"$corpus/$f")" "$f"
			done | sort -n | cut -d' ' -f2)
			rmdir "$dir/testdata/fuzz/$t" 2>/dev/null || true
		fi
		result=ok
		if [[ $status -ne 0 ]]; then
			result=FAIL
			failed=1
			crasher=$(sed -nE 's/.*Failing input written to (testdata\/fuzz\/[^ ]+).*/\1/p' "$work/log" | head -1)
			[[ -n $crasher ]] && result="FAIL, input kept in ${dir#"$PWD"/}/$crasher"
		fi
		rows+=("$(printf '%-58s %6ss %12s %6s %5s  %s' "${pkg#github.com/tongbao/}.$t" "$took" "${execs:--}" "${found:--}" "$kept" "$result")")
	done
done

echo
printf '%-58s %7s %12s %6s %5s  %s\n' target time execs new kept result
for r in "${rows[@]}"; do
	echo "$r"
done
echo "$total_targets targets, $fuzztime each; new inputs are in $(go env GOCACHE)/fuzz, the kept ones under testdata/fuzz"
exit $failed
