#!/usr/bin/env bash
# Regenerates webhook/hot-symbols.txt: the link order that puts the code kubectl-dr-webhook runs
# first, so that its resident pages stay few (the kernel maps 64 KiB of page cache around every
# page fault, so scattered hot code makes most of the binary resident; BENCHMARKS.md, webhook).
#
#   webhook/order-symbols.sh BUILD_DIR
#
# Runs BUILD_DIR/kubectl-dr-webhook (static, linked by lld, with BUILD_DIR/kubectl-dr-webhook.map)
# under valgrind's callgrind while it starts, serves the benchmark's AdmissionReviews on /validate
# and /mutate over TLS 1.3 and 1.2, health, readiness and metrics (TLS and plain), bad requests,
# and stops on SIGTERM. Every input section of the link that executed an instruction gets one
# symbol in the list (a name unique in the link where there is one, so that lld moves that section
# alone). Rebuild afterwards; a stale list only costs memory, never correctness.
# Needs: valgrind, wrk, curl, openssl, python3, and ../shared/bench/make-review.py (KDR_BENCH_DIR).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: webhook/order-symbols.sh BUILD_DIR}" && pwd)
bench=${KDR_BENCH_DIR:-$root/../shared/bench}
bin=$build/kubectl-dr-webhook
map=$build/kubectl-dr-webhook.map
[ -f "$map" ] || { echo "no $map: build kubectl-dr-webhook with lld first" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
python3 "$bench/make-review.py" "$work" >/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$work/tls.key" 2>/dev/null
openssl req -new -x509 -key "$work/tls.key" -out "$work/tls.crt" -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
mport=$(free_port)
valgrind --tool=callgrind --dump-instr=yes --compress-pos=no --compress-strings=no \
  --callgrind-out-file="$work/callgrind.out" "$bin" --listen "127.0.0.1:$port" \
  --metrics-listen "127.0.0.1:$mport" --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
  --objects "$root/tests/data/admission/bench-objects.yaml" --shutdown-delay 0 \
  2>"$work/valgrind.log" >/dev/null &
pid=$!
url=https://127.0.0.1:$port
for _ in $(seq 100); do curl -sk "$url/healthz" >/dev/null && break; sleep 0.2; done
for path in healthz readyz metrics; do curl -sk "$url/$path" >/dev/null; done
curl -s "http://127.0.0.1:$mport/metrics" >/dev/null
post() { curl -sk -o /dev/null "$@"; }
post --tls-max 1.2 -H 'Content-Type: application/json' --data-binary @"$work/pod-review.json" "$url/validate"
post -H 'Content-Type: text/plain' -d x "$url/validate"
post -H 'Content-Type: application/json' -d '{"apiVersion":' "$url/mutate"
for path in validate:pod mutate:ingress; do
  BODY=$work/${path#*:}-review.json wrk -t1 -c4 -d5s -s "$bench/post.lua" "$url/${path%%:*}" >/dev/null
done
kill -TERM $pid
wait $pid || true

python3 - "$work/callgrind.out" "$map" "$root/webhook/hot-symbols.txt" <<'EOF'
import bisect, collections, re, sys
profile, mapfile, out = sys.argv[1:]
executed = set()
for line in open(profile):
    m = re.match(r'^0x([0-9a-f]+) ', line)
    if m:
        executed.add(int(m.group(1), 16))
# lld map: "VMA LMA Size Align Out In Symbol"; input sections indented 8, symbols 16 past Align.
sections = []  # (start, size, [symbols])
names = collections.Counter()
for line in open(mapfile):
    m = re.match(r'^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+( +)(.*)$', line)
    if not m:
        continue
    indent, rest = len(m.group(3)), m.group(4)
    if rest.startswith('.'):
        continue  # an output section
    if ':(' in rest and indent < 10:
        sections.append([int(m.group(1), 16), int(m.group(2), 16), rest, []])
    elif sections and indent >= 10:
        sections[-1][3].append(rest.strip())
        names[rest.strip()] += 1
sections.sort()
starts = [s[0] for s in sections]
touched = {}
for addr in executed:
    i = bisect.bisect_right(starts, addr) - 1
    if i >= 0 and addr < sections[i][0] + sections[i][1]:
        touched[i] = True
# glibc picks a string function's variant (sse2, avx2, evex...) for the CPU it runs on, and
# valgrind's CPU is not the production one: take every variant of each family that ran.
variant = re.compile(r'^(__[a-z0-9]+(?:_chk)?)_(?:sse|ssse|avx|evex|erms)')
families = set()
for i in touched:
    for s in sections[i][3]:
        m = variant.match(s)
        if m:
            families.add(m.group(1) + '_')
for i, sec in enumerate(sections):
    if any(s.startswith(f) for s in sec[3] for f in families) and '.text' in sec[2]:
        touched[i] = True
order = []
for i in sorted(touched):
    syms = sections[i][3]
    if not syms:
        continue
    unique = [s for s in syms if names[s] == 1]
    order.append((unique or syms)[0])
with open(out, 'w') as f:
    f.write('\n'.join(dict.fromkeys(order)) + '\n')
size = sum(sections[i][1] for i in touched)
print(f'{len(order)} symbols for the {len(touched)} input sections that ran ({size // 1024} KiB '
      f'of {sum(s[1] for s in sections) // 1024} KiB in the link) -> {out}')
EOF
