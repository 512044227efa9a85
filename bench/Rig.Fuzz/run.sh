#!/usr/bin/env bash
# Fuzz one Rig parser with afl-fuzz for a bounded time (docs/RELIABILITY.md, "Fuzzing and property tests").
#
#   bench/Rig.Fuzz/run.sh TARGET [MINUTES]      TARGET: exchange enroll archive deb rpm model; MINUTES: default 5
#
# Publishes bench/Rig.Fuzz, instruments the Rig assemblies (and the decompressors or YAML parser the target goes
# through) with sharpfuzz, then runs afl-fuzz on the seeds in bench/Rig.Fuzz/seeds/TARGET. Findings go to
# ${RIG_FUZZ_OUT:-/tmp/rig-fuzz}/TARGET/findings (crashes/ holds inputs that made the target throw something other
# than its parser's own refusal; replay one with: dotnet PUBLISH/Rig.Fuzz.dll TARGET < FILE). Needs afl++
# (apt-get install -y afl++); installs SharpFuzz.CommandLine 2.3.0 into .tools/ when missing. Run it niced on a shared
# machine: nice -n 19 bench/Rig.Fuzz/run.sh deb 5
set -euo pipefail

target=${1:?usage: run.sh TARGET [MINUTES]}
minutes=${2:-5}
case $target in
  exchange|enroll|archive) extra=() ;;
  deb|rpm) extra=(SharpCompress.dll) ;;
  model) extra=(YamlDotNet.dll) ;;
  *) echo "unknown target '$target' (exchange enroll archive deb rpm model)" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${RIG_FUZZ_OUT:-/tmp/rig-fuzz}/$target
tools=$repo/.tools

command -v afl-fuzz >/dev/null || { echo "afl-fuzz is missing: apt-get install -y afl++" >&2; exit 1; }
[ -x "$tools/sharpfuzz" ] || dotnet tool install --tool-path "$tools" SharpFuzz.CommandLine --version 2.3.0

rm -rf "$out/publish"
mkdir -p "$out"
# afl-fuzz refuses an output directory holding an earlier run: keep it (its crashes) under a dated name.
[ ! -d "$out/findings" ] || mv "$out/findings" "$out/findings.$(date -u +%Y%m%dT%H%M%SZ)"
dotnet publish "$here/Rig.Fuzz.csproj" -c Release -o "$out/publish" --nologo -v quiet
for assembly in Rig.Protocol.dll Rig.Model.dll Rig.Server.dll "${extra[@]}"; do
  "$tools/sharpfuzz" "$out/publish/$assembly"
done

# dotnet itself is not instrumented (SharpFuzz reports coverage through the fork server); a container has no
# core-dump handler or CPU governor to check.
export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1
# -t: a .NET start-up plus the first call takes seconds; -V: stop after the time given.
afl-fuzz -i "$here/seeds/$target" -o "$out/findings" -t 5000 -m none -V $((minutes * 60)) -- dotnet "$out/publish/Rig.Fuzz.dll" "$target" \
  > "$out/afl.log" 2>&1 || { tail -n 40 "$out/afl.log" >&2; exit 1; }

stats=$out/findings/default/fuzzer_stats
echo "target=$target minutes=$minutes $(grep -E '^(execs_done|corpus_count|saved_crashes|saved_hangs|stability|bitmap_cvg) ' "$stats" | tr -s ' ' | sed 's/ : /=/' | tr '\n' ' ')"
