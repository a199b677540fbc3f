#!/bin/sh
# tests/fuzz/run.sh NAME...: runs each libFuzzer harness of build/fuzz/fuzz
# for FUZZ_SECONDS (default 60), one after the other, from a fresh copy of
# its seeds (tests/fuzz/NAME/) in build/fuzz/corpus/NAME; prints what
# libFuzzer reports (executions, coverage) and a table at the end. A crash
# goes to build/fuzz/crashes/NAME-*; the exit status is then 1.
# Run from the top of the project (make fuzz does; see tests/fuzz/README.md).
set -u
secs=${FUZZ_SECONDS:-60}
out=build/fuzz
bin=$out/fuzz
[ -x "$bin" ] || { echo "fuzz: $bin is missing (make fuzz builds it)" >&2; exit 2; }
mkdir -p "$out/crashes" "$out/corpus"
table=$out/summary
printf '%-9s %5s %12s %9s %6s %7s %8s  %s\n' harness secs executions exec/s cov ft corpus result >"$table"
failed=0

for h in "$@"; do
	log=$out/$h.log
	corpus=$out/corpus/$h
	rm -rf "$corpus"
	mkdir -p "$corpus"
	[ -d "tests/fuzz/$h" ] && find "tests/fuzz/$h" -maxdepth 1 -type f ! -name '*.md' \
		-exec cp {} "$corpus/" \;
	opts="-max_total_time=$secs -print_final_stats=1 -timeout=25 -rss_limit_mb=2560"
	opts="$opts -artifact_prefix=$out/crashes/$h-"
	[ -f "tests/fuzz/$h.dict" ] && opts="$opts -dict=tests/fuzz/$h.dict"
	if [ "$h" = tar ] && [ "$(id -u)" != 0 ]; then
		echo "== $h: skipped (extraction with owners and devices needs root)"
		printf '%-9s %5s %12s %9s %6s %7s %8s  %s\n' "$h" - - - - - - "skipped: not root" >>"$table"
		continue
	fi
	echo "== $h: ${secs} s"
	ln -sf fuzz "$out/fuzz-$h"
	# the harness tar extracts into a scratch directory under build/fuzz
	start=$(date +%s)
	# shellcheck disable=SC2086
	FUZZ_SCRATCH=$out "$out/fuzz-$h" $opts "$corpus" >"$log" 2>&1
	status=$?
	took=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p')
	crash=$(sed -n 's/^.*Test unit written to //p' "$log" | head -n 1)
	if [ $status -eq 0 ] && [ -z "$crash" ]; then
		result=ok
	else
		failed=1
		result="FAILED (status $status) ${crash:-see $log}"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: |.*runtime error)' "$log" | head -n 5
	fi
	echo "$h: ${execs:-?} executions in $took s (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}," \
		"corpus ${corp:-?}: $result"
	printf '%-9s %5s %12s %9s %6s %7s %8s  %s\n' "$h" "$took" "${execs:-?}" "${rate:-?}" \
		"${cov:-?}" "${ft:-?}" "${corp:-?}" "$result" >>"$table"
done

echo "== summary (logs in $out/NAME.log)"
cat "$table"
exit $failed
