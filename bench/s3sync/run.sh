#!/usr/bin/env bash
# S3 back-fill benchmark: pilotlight replicate sync against aws s3 sync,
# rclone sync, s5cmd cp and s5cmd sync, on an in-memory S3 (gofakes3)
# behind a proxy adding 30 ms to every request: a small set (20,000 objects
# of 1-64 KiB), a mixed set (10,000 of 1 KiB-1 MiB plus 64 MiB ones), then
# the incremental case (100,000 keys, 1% changed) and verify, each against
# the time to list both buckets. Run by hand from the repository root:
#
#   bench/s3sync/run.sh            # ROUNDS=3 SMALL_N=20000 N=10000 INC_N=100000 LATENCY=30ms BUDGET=2700
#   SETS="small" TOOLS="pilotlight s5cmd-cp s5cmd" S5CMD_SRC=~/src/s5cmd bench/s3sync/run.sh
#   SETS="storm scale" SCALE_NS="10000 100000 300000" S5CMD=/tmp/s5cmd bench/s3sync/run.sh
#
# Tools "sdk-floor" and "raw-floor" (`fakes3 callcost`) make the same
# copies with nothing but one CopyObject each, through aws-sdk-go-v2 as
# pilotlight builds its client or as bare HTTP: their client CPU is the
# floor under any client built on that SDK, or on none.
#
# `pilotlight` is the CLI with its defaults: since --workers defaults to 0,
# that is the adaptive pool. Tool "adaptive" is the same sync run
# in-process by `fakes3 sync`; "pilotlight128" is the CLI with --workers 128.
#
# Set "storm" copies the small set while the proxy answers 20% of requests
# 503 SlowDown for STORM_S seconds (30); set "scale" measures the peak RSS
# of sync (1% changed) and verify at each of SCALE_NS keys.
#
# s5cmd is the binary named by S5CMD, or taken from PATH, or built from its
# public source (peak/s5cmd: a checkout, or a bare git directory, named by
# S5CMD_SRC) with its vendored modules into the run's temp directory, never
# into the repository. rclone
# comes from Debian (apt-get install -y rclone). Servers run on loopback
# only and are stopped on exit; the whole run is bounded by BUDGET seconds,
# each tool run by RUN_TIMEOUT seconds. See docs/benchmarks.md, "S3
# back-fill and verify".
set -euo pipefail
# The whole script is one compound command, read before it runs: editing
# this file during a run then cannot change what the run executes.
{

ROUNDS=${ROUNDS:-3}
SETS=${SETS:-small mixed incremental}
TOOLS=${TOOLS:-pilotlight aws aws64 rclone64 s5cmd-cp s5cmd}
S5CMD_SRC=${S5CMD_SRC:-}
SMALL_N=${SMALL_N:-20000}
N=${N:-10000}
BIG=${BIG:-5}
INC_N=${INC_N:-100000}
INC_ROUNDS=${INC_ROUNDS:-3}
LATENCY=${LATENCY:-30ms}
BUDGET=${BUDGET:-2700}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
WORKERS=${WORKERS:-}
STORM_S=${STORM_S:-30}
STORM_RATIO=${STORM_RATIO:-0.2}
SCALE_NS=${SCALE_NS:-10000 100000 300000}

cd "$(dirname "$0")/../.."
start_epoch=$(date +%s)
work=$(mktemp -d /tmp/s3sync-bench.XXXXXX)
pids=()
cleanup() {
	# KEEP=DIR keeps the per-run tables of a run.
	[ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$work"/*.tsv "$KEEP"/ 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }
left() { echo $((BUDGET - ($(date +%s) - start_epoch))); }

for t in go curl python3 /usr/bin/time timeout; do
	command -v "$t" >/dev/null || { say "missing $t"; exit 2; }
done
have_aws=0; command -v aws >/dev/null && have_aws=1
have_rclone=0; command -v rclone >/dev/null && have_rclone=1
S5CMD=${S5CMD:-$(command -v s5cmd || true)}
[ $have_aws = 1 ] || say "aws CLI not found: its runs are skipped"
[ $have_rclone = 1 ] || say "rclone not found (apt-get install -y rclone): its runs are skipped"

say "building pilotlight and the bench server"
go build -o "$work/pilotlight" ./cmd/pilotlight
go build -o "$work/fakes3" ./bench/s3sync/fakes3
if [ -z "$S5CMD" ] && [ -n "$S5CMD_SRC" ]; then
	say "building s5cmd from $S5CMD_SRC (vendored modules, into $work)"
	mkdir -p "$work/s5cmd-src"
	if [ -f "$S5CMD_SRC/go.mod" ]; then
		cp -r "$S5CMD_SRC/." "$work/s5cmd-src/"
	else
		git --git-dir="$S5CMD_SRC" archive HEAD | tar -x -C "$work/s5cmd-src"
	fi
	(cd "$work/s5cmd-src" && go build -mod=vendor -o "$work/s5cmd" .) && S5CMD="$work/s5cmd"
fi
have_s5cmd=0; [ -n "$S5CMD" ] && have_s5cmd=1
[ $have_s5cmd = 1 ] || say "no s5cmd (not on PATH, no S5CMD_SRC): its runs are skipped"
want() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }
runset() { case " $SETS " in *" $1 "*) return 0 ;; esac; return 1; }

waitfile() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; say "no $1"; exit 1; }
"$work/fakes3" serve -ready "$work/server.url" -max "$((BUDGET + 600))s" 2>"$work/server.log" &
pids+=($!); SPID=$!
waitfile "$work/server.url"; S=$(cat "$work/server.url")
"$work/fakes3" proxy -target "$S" -latency "$LATENCY" -ready "$work/proxy.url" -max "$((BUDGET + 600))s" 2>"$work/proxy.log" &
pids+=($!); PPID_=$!
waitfile "$work/proxy.url"; P=$(cat "$work/proxy.url")

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
# Plain-HTTP loopback endpoints: a CA bundle from the environment only
# breaks clients that insist on loading it (rclone does).
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE || true
for c in 10 64; do
	cat >"$work/aws$c.cfg" <<CFG
[default]
region = us-east-1
s3 =
    addressing_style = path
    max_concurrent_requests = $c
    multipart_threshold = 1GB
CFG
done
# gofakes3 has no UploadPartCopy: the 1 GB threshold keeps the aws CLI on
# CopyObject for the 64 MiB objects, as pilotlight (single-part source ETag)
# and rclone (copy cutoff 4.6 GiB) and s5cmd (always CopyObject) are.
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT="$P" \
	RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=bench RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=bench \
	RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true RCLONE_CONFIG_BENCH_REGION=us-east-1
: >"$work/rclone.conf"

tick=$(getconf CLK_TCK)
proc_cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
machine_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }

# runtool TOOL SRC DST: one timed copy into a fresh DST; appends a TSV row.
results="$work/results.tsv"
printf 'set\tround\ttool\twall\tuser\tsys\tmaxrss_kb\tobjects\tbytes\tok\trequests\tserver_cpu\tproxy_cpu\tother_cpu\n' >"$results"
runtool() {
	local set=$1 round=$2 tool=$3 src=$4 dst=$5 fresh=${6:-1}
	if [ "$(left)" -le 60 ]; then say "budget spent: skipping $tool"; return 0; fi
	[ "$fresh" = 1 ] && curl -fsS "$S/__admin/create?bucket=$dst" >/dev/null
	local cmd
	case $tool in
	pilotlight*)
		cat >"$work/pl.yaml" <<YAML
stack: bench
primary: { region: us-east-1 }
dr:      { region: us-west-2 }
protect:
  buckets:
    - { name: media, source: $src, replica: $dst }
YAML
		w=$WORKERS; [ "$tool" = pilotlight128 ] && w=128
		cmd=(env AWS_ENDPOINT_URL="$P" "$work/pilotlight" --config "$work/pl.yaml" replicate sync -o json ${w:+--workers $w}) ;;
	adaptive) cmd=("$work/fakes3" sync -endpoint "$P" -src "$src" -dst "$dst" -workers 0 ${ADAPT_ARGS:-}) ;;
	adaptive2) cmd=("$work/fakes3" sync -endpoint "$P" -src "$src" -dst "$dst" -workers 0 ${ADAPT2_ARGS:-}) ;;
	adaptive3) cmd=("$work/fakes3" sync -endpoint "$P" -src "$src" -dst "$dst" -workers 0 ${ADAPT3_ARGS:-}) ;;
	aws) cmd=(env AWS_CONFIG_FILE="$work/aws10.cfg" aws s3 sync "s3://$src" "s3://$dst" --endpoint-url "$P" --only-show-errors --no-progress) ;;
	aws64) cmd=(env AWS_CONFIG_FILE="$work/aws64.cfg" aws s3 sync "s3://$src" "s3://$dst" --endpoint-url "$P" --only-show-errors --no-progress) ;;
	rclone) cmd=(rclone --config "$work/rclone.conf" sync "bench:$src" "bench:$dst") ;;
	rclone64) cmd=(rclone --config "$work/rclone.conf" sync "bench:$src" "bench:$dst" --transfers 64 --checkers 64 --fast-list) ;;
	s5cmd) cmd=("$S5CMD" --endpoint-url "$P" sync "s3://$src/*" "s3://$dst/") ;;
	s5cmd-cp) cmd=("$S5CMD" --endpoint-url "$P" cp "s3://$src/*" "s3://$dst/") ;;
	# The floors: one CopyObject per object through aws-sdk-go-v2 as
	# pilotlight builds its client, or as a bare HTTP PUT, and nothing else.
	sdk-floor) cmd=("$work/fakes3" callcost -endpoint "$P" -src "$src" -dst "$dst" -mode sdk -inflight 256) ;;
	raw-floor) cmd=("$work/fakes3" callcost -endpoint "$P" -src "$src" -dst "$dst" -mode raw -inflight 256) ;;
	esac
	curl -fsS "$P/__bench/calls?reset=1" >/dev/null
	local s0 p0 m0 s1 p1 m1
	s0=$(proc_cpu "$SPID"); p0=$(proc_cpu "$PPID_"); m0=$(machine_busy)
	local ok=1
	/usr/bin/time -f '%e %U %S %M' -o "$work/time.txt" timeout "$RUN_TIMEOUT" "${cmd[@]}" >"$work/out.txt" 2>"$work/err.txt" || ok=0
	s1=$(proc_cpu "$SPID"); p1=$(proc_cpu "$PPID_"); m1=$(machine_busy)
	local calls; calls=$(curl -fsS "$P/__bench/calls")
	# GNU time puts "Command exited with non-zero status" first on failure.
	read -r wall user sys rss < <(tail -1 "$work/time.txt") || { wall=0; user=0; sys=0; rss=0; }
	local stat objs bytes
	stat=$(curl -fsS "$S/__admin/stat?bucket=$dst")
	objs=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["objects"])' "$stat")
	bytes=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["bytes"])' "$stat")
	local want; want=$(curl -fsS "$S/__admin/stat?bucket=$src")
	[ "$want" = "$stat" ] || ok=0
	[ $ok = 1 ] || { say "$tool round $round: not a complete copy ($stat, want $want)"; tail -3 "$work/err.txt" >&2; }
	local other
	other=$(python3 -c "print(round((($m1-$m0)-($s1-$s0)-($p1-$p0))/$tick-($user+$sys),2))")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$set" "$round" "$tool" "$wall" "$user" "$sys" "$rss" \
		"$objs" "$bytes" "$ok" "$calls" "$(python3 -c "print(($s1-$s0)/$tick)")" "$(python3 -c "print(($p1-$p0)/$tick)")" "$other" >>"$results"
	cp "$work/out.txt" "$work/last-$tool.out"
	say "$(printf '%-11s round %s: %6.2fs  %s objects' "$tool" "$round" "$wall" "$objs")"
}

drop() { curl -fsS "$S/__admin/drop?bucket=$1" >/dev/null; }

rss_verify() { # SRC DST -> "seconds maxrss_kb exit"
	cat >"$work/pl.yaml" <<YAML
stack: bench
primary: { region: us-east-1 }
dr:      { region: us-west-2 }
protect:
  buckets:
    - { name: media, source: $1, replica: $2 }
YAML
	local code=0
	/usr/bin/time -f '%e %M' -o "$work/vtime.txt" timeout "$RUN_TIMEOUT" env AWS_ENDPOINT_URL="$P" \
		"$work/pilotlight" --config "$work/pl.yaml" replicate verify -o json >"$work/verify.json" 2>>"$work/err.txt" || code=$?
	echo "$(tail -1 "$work/vtime.txt") $code"
}
listboth() { "$work/fakes3" list -endpoint "$P" -bucket "$1" -bucket "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])'; }
tools=()
want pilotlight && tools+=(pilotlight)
want pilotlight128 && tools+=(pilotlight128)
want adaptive && tools+=(adaptive)
want adaptive2 && tools+=(adaptive2)
want adaptive3 && tools+=(adaptive3)
[ $have_aws = 1 ] && want aws && tools+=(aws)
[ $have_aws = 1 ] && want aws64 && tools+=(aws64)
[ $have_rclone = 1 ] && want rclone64 && tools+=(rclone64)
[ $have_s5cmd = 1 ] && want s5cmd-cp && tools+=(s5cmd-cp)
[ $have_s5cmd = 1 ] && want s5cmd && tools+=(s5cmd)
want sdk-floor && tools+=(sdk-floor)
want raw-floor && tools+=(raw-floor)

# --- throughput, small set: SMALL_N objects of 1-64 KiB, where requests in
# flight and client CPU per object decide, not bytes
: >"$work/seed-small.json"
if runset small; then
	say "seeding $SMALL_N objects (1-64 KiB, log-uniform)"
	"$work/fakes3" seed -endpoint "$S" -bucket small -n "$SMALL_N" -min 1024 -max 65536 -seed 3 >"$work/seed-small.json"
	for r in $(seq "$ROUNDS"); do
		for t in "${tools[@]}"; do runtool small "$r" "$t" small "sdst-$t-$r"; drop "sdst-$t-$r"; done
	done
fi

# --- throughput: N objects of 1 KiB-1 MiB (log-uniform) plus BIG x 64 MiB
: >"$work/seed.json"
v10_s=0 v10_rss=0 v10_code=-1 l10=0
if runset mixed; then
say "seeding $N objects (1 KiB-1 MiB, log-uniform) + $BIG x 64 MiB"
"$work/fakes3" seed -endpoint "$S" -bucket src -n "$N" -min 1024 -max 1048576 -big "$BIG" -bigsize 67108864 -seed 1 >"$work/seed.json"
for r in $(seq "$ROUNDS"); do
	for t in "${tools[@]}"; do runtool mixed "$r" "$t" src "dst-$t-$r"; drop "dst-$t-$r"; done
done
# rclone's defaults (4 transfers, a HEAD after each copy) are slow: once.
[ $have_rclone = 1 ] && want rclone && { runtool mixed 1 rclone src dst-rclone-1; drop dst-rclone-1; }

# --- memory and verify at N keys (the mixed set)
runtool mixed 0 pilotlight-final src dst-final
read -r v10_s v10_rss v10_code <<<"$(rss_verify src dst-final)"
l10=$(listboth src dst-final)
drop dst-final
fi

# --- incremental: INC_N small keys, 1% changed per round
inc="$work/incremental.tsv"
printf 'round\tlist_before\tsync\tlist_after\tcopied\tsync_rss_kb\n' >"$inc"
vinc="$work/verify.tsv"
printf 'round\tverify_s\tverify_rss_kb\tverify_exit\tlist_s\n' >"$vinc"
if runset incremental && [ "$(left)" -gt 300 ]; then
	say "seeding $INC_N objects (1-4 KiB) for the incremental case"
	"$work/fakes3" seed -endpoint "$S" -bucket inc-src -n "$INC_N" -min 1024 -max 4096 -seed 2 >/dev/null
	runtool incremental-fill 0 pilotlight inc-src inc-dst
	for r in $(seq "$INC_ROUNDS"); do
		[ "$(left)" -gt 120 ] || break
		"$work/fakes3" mutate -endpoint "$S" -bucket inc-src -n "$INC_N" -every 100 -offset "$r" >/dev/null
		lb=$(listboth inc-src inc-dst)
		runtool incremental "$r" pilotlight inc-src inc-dst 0
		la=$(listboth inc-src inc-dst)
		copied=$(python3 -c 'import json; print(json.load(open("'"$work/last-pilotlight.out"'"))["buckets"][0]["copied"])')
		row=$(tail -1 "$results")
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$lb" "$(cut -f4 <<<"$row")" "$la" "$copied" "$(cut -f7 <<<"$row")" >>"$inc"
	done
	# Verify against listing both, interleaved INC_ROUNDS times: medians,
	# as the copies are, not one run of each.
	for r in $(seq "$INC_ROUNDS"); do
		[ "$(left)" -gt 60 ] || break
		read -r vs vrss vcode <<<"$(rss_verify inc-src inc-dst)"
		ls_=$(listboth inc-src inc-dst)
		printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$vs" "$vrss" "$vcode" "$ls_" >>"$vinc"
	done
else
	say "incremental case skipped (SETS, or budget spent)"
fi

# --- SlowDown storm: the small set copied while STORM_RATIO of requests are
# answered 503 SlowDown for STORM_S seconds
storm="$work/storm.tsv"
printf 'tool\twall\tok\trefused\tfailed\tthrottled\n' >"$storm"
if runset storm; then
	if ! curl -fsS "$S/__admin/stat?bucket=small" >/dev/null 2>&1; then
		say "seeding $SMALL_N objects (1-64 KiB, log-uniform) for the storm"
		"$work/fakes3" seed -endpoint "$S" -bucket small -n "$SMALL_N" -min 1024 -max 65536 -seed 3 >/dev/null
	fi
	stools=(pilotlight); [ $have_s5cmd = 1 ] && want s5cmd-cp && stools+=(s5cmd-cp)
	for t in "${stools[@]}"; do
		curl -fsS "$P/__bench/storm?seconds=$STORM_S&ratio=$STORM_RATIO" >/dev/null
		runtool storm 1 "$t" small "storm-$t"
		refused=$(curl -fsS "$P/__bench/storm?seconds=0&ratio=0")
		row=$(tail -1 "$results")
		failed=-; throttled=-
		if [ "$t" = pilotlight ]; then
			failed=$(python3 -c 'import json; print(json.load(open("'"$work/last-pilotlight.out"'"))["buckets"][0]["failed"])' 2>/dev/null || echo '?')
			throttled=$(python3 -c 'import json; print(json.load(open("'"$work/last-pilotlight.out"'"))["buckets"][0]["throttled"])' 2>/dev/null || echo '?')
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$(cut -f4 <<<"$row")" "$(cut -f10 <<<"$row")" "$refused" "$failed" "$throttled" >>"$storm"
		drop "storm-$t"
	done
fi

# --- memory at scale: SCALE_NS keys of 64-256 B, a replica seeded alike, 1%
# of the source changed; peak RSS of sync and of verify at each size
scale="$work/scale.tsv"
printf 'keys\tsync_s\tsync_rss_kb\tverify_s\tverify_rss_kb\tverify_exit\tlist_s\tpeak_workers\n' >"$scale"
if runset scale; then
	for n in $SCALE_NS; do
		[ "$(left)" -gt 300 ] || { say "budget spent: scale $n skipped"; break; }
		say "seeding $n keys twice for the scale case"
		"$work/fakes3" seed -endpoint "$S" -bucket "sc-src-$n" -n "$n" -min 64 -max 256 -seed 4 >/dev/null
		"$work/fakes3" seed -endpoint "$S" -bucket "sc-dst-$n" -n "$n" -min 64 -max 256 -seed 4 >/dev/null
		"$work/fakes3" mutate -endpoint "$S" -bucket "sc-src-$n" -n "$n" -every 100 -offset 1 >/dev/null
		runtool scale "$n" pilotlight "sc-src-$n" "sc-dst-$n" 0
		row=$(tail -1 "$results")
		read -r vs vrss vcode <<<"$(rss_verify "sc-src-$n" "sc-dst-$n")"
		ls_=$(listboth "sc-src-$n" "sc-dst-$n")
		# The pool's peak beside the RSS: memory follows copies in flight.
		peak=$(python3 -c 'import json; print(json.load(open("'"$work/last-pilotlight.out"'"))["buckets"][0]["peak_workers"])' 2>/dev/null || echo 0)
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$(cut -f4 <<<"$row")" "$(cut -f7 <<<"$row")" "$vs" "$vrss" "$vcode" "$ls_" "$peak" >>"$scale"
		drop "sc-src-$n"; drop "sc-dst-$n"
	done
fi

# --- report
python3 - "$results" "$inc" "$work/seed.json" "$work/seed-small.json" "$storm" "$scale" <<PY
import csv, json, statistics, sys, subprocess, platform
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
inc = list(csv.DictReader(open(sys.argv[2]), delimiter="\t"))
def load(p):
    try: return json.load(open(p))
    except Exception: return None
seeds = {"mixed": load(sys.argv[3]), "small": load(sys.argv[4])}
cpu = next((l.split(":",1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
def ver(cmd):
    try: return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.splitlines()[0].strip()
    except Exception: return "absent"
print("## S3 back-fill benchmark run")
print(f"machine: {subprocess.run(['nproc'],capture_output=True,text=True).stdout.strip()} cores, {cpu}, {int(mem)//1024//1024} GiB; {platform.platform()}")
print(f"tools: {ver(['go','version'])}; {ver(['aws','--version']) or 'aws absent'}; {ver(['rclone','version'])}; s5cmd {ver(['${S5CMD:-s5cmd}','version'])}")
print(f"server: gofakes3 (memory) behind a proxy adding ${LATENCY} per request")
for setname in ("small", "mixed"):
    seed = seeds[setname]
    if not seed:
        continue
    print()
    print(f"### {setname}: {seed['objects']} objects, {seed['bytes']/1e6:.0f} MB")
    print("| tool | runs | median wall s | objects/s | MB/s | client CPU s / 1k obj | requests / obj | other CPU s (max) | CPU left by others used | complete |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    med = {}
    for tool in dict.fromkeys(r["tool"] for r in rows if r["set"] == setname and r["round"] != "0"):
        rs = [r for r in rows if r["set"] == setname and r["tool"] == tool and r["round"] != "0"]
        w = statistics.median(float(r["wall"]) for r in rs)
        med[tool] = w
        objs = seed["objects"]; mb = seed["bytes"]/1e6
        cpu = statistics.median((float(r["user"])+float(r["sys"]))/objs*1000 for r in rs)
        req = statistics.median(int(r["requests"])/objs for r in rs)
        oth = max(float(r["other_cpu"]) for r in rs)
        ok = all(r["ok"] == "1" for r in rs)
        # The machine's ceiling on a shared machine: of the CPU the other
        # processes left (2 cores x wall - their CPU), the share that the
        # client, the server and the proxy used.
        ncpu = int(subprocess.run(['nproc'],capture_output=True,text=True).stdout.strip())
        def used(r):
            free = ncpu*float(r["wall"]) - float(r["other_cpu"])
            return (float(r["user"])+float(r["sys"])+float(r["server_cpu"])+float(r["proxy_cpu"]))/free if free > 0 else 0
        ceil = statistics.median(used(r) for r in rs)
        print(f"| {tool} | {len(rs)} | {w:.2f} | {objs/w:.0f} | {mb/w:.0f} | {cpu:.3f} | {req:.2f} | {oth:.1f} | {100*ceil:.0f}% | {'yes' if ok else 'NO'} |")
    if "pilotlight" in med:
        print()
        for t, w in med.items():
            if t != "pilotlight":
                print(f"- pilotlight is {w/med['pilotlight']:.2f}x {t}")
    print()
    print("per run (wall s): " + "; ".join(f"{r['tool']}#{r['round']} {float(r['wall']):.2f}" for r in rows if r["set"] == setname))
seed = seeds["mixed"] or {"objects": 0}
if inc:
    print()
    print("### incremental: ${INC_N} keys, 1% changed per round")
    print("| round | list both s (before/after) | sync s | sync / list | copied | sync peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for r in inc:
        base = statistics.median([float(r["list_before"]), float(r["list_after"])])
        print(f"| {r['round']} | {float(r['list_before']):.2f} / {float(r['list_after']):.2f} | {float(r['sync']):.2f} | {float(r['sync'])/base:.2f} | {r['copied']} | {int(r['sync_rss_kb'])/1024:.0f} |")
print()
print("### verify")
if float('${l10}') > 0:
    print(f"- ${N} + ${BIG} keys: verify {float('${v10_s}'):.2f} s (exit ${v10_code}), list both {float('${l10}'):.2f} s, peak RSS {int('${v10_rss}')/1024:.0f} MB")
vrows = list(csv.DictReader(open("$vinc"), delimiter="\t"))
if vrows:
    v = statistics.median(float(r["verify_s"]) for r in vrows)
    l = statistics.median(float(r["list_s"]) for r in vrows)
    runs = "; ".join(f"{float(r['verify_s']):.2f} / {float(r['list_s']):.2f}" for r in vrows)
    print(f"- ${INC_N} keys, {len(vrows)} rounds interleaved: verify {v:.2f} s (exits {','.join(r['verify_exit'] for r in vrows)}), list both {l:.2f} s, ratio of medians {v/l:.2f}, peak RSS {max(int(r['verify_rss_kb']) for r in vrows)/1024:.0f} MB; per round verify / list s: {runs}")
fill = [r for r in rows if r["set"] == "incremental-fill"]
mix = [r for r in rows if r["set"] == "mixed" and r["tool"] == "pilotlight"]
if fill and mix:
    print(f"- sync peak RSS: {statistics.median(int(r['maxrss_kb']) for r in mix)/1024:.0f} MB at {seed['objects']} keys, {int(fill[0]['maxrss_kb'])/1024:.0f} MB filling ${INC_N} keys")
storm = list(csv.DictReader(open(sys.argv[5]), delimiter="\t"))
if storm:
    print()
    print("### SlowDown storm: ${STORM_RATIO} of requests answered 503 SlowDown for ${STORM_S} s")
    print("| tool | wall s | complete | refused by the storm | failed | throttled (as counted by pilotlight) |")
    print("|---|---|---|---|---|---|")
    for r in storm:
        print(f"| {r['tool']} | {float(r['wall']):.2f} | {'yes' if r['ok']=='1' else 'NO'} | {r['refused']} | {r['failed']} | {r['throttled']} |")
scale = list(csv.DictReader(open(sys.argv[6]), delimiter="\t"))
if scale:
    print()
    print("### memory at scale (1% of keys changed)")
    print("| keys | sync s | sync peak RSS MB | sync peak copies in flight | verify s | verify peak RSS MB | verify exit | list both s | verify / list |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in scale:
        print(f"| {r['keys']} | {float(r['sync_s']):.2f} | {int(r['sync_rss_kb'])/1024:.0f} | {r['peak_workers']} | {float(r['verify_s']):.2f} | {int(r['verify_rss_kb'])/1024:.0f} | {r['verify_exit']} | {float(r['list_s']):.2f} | {float(r['verify_s'])/float(r['list_s']):.2f} |")
PY
exit
}
