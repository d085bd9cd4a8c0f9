"""Feed lag of the scoring consumer, from the server's /metrics histogram.

    lag.py PORT KEY snapshot FILE     # keep the histogram's buckets now
    lag.py PORT KEY since FILE        # lag of the entries handled since: count, p50, p99, share <= 100 ms
    lag.py PORT KEY wait              # wait until every consumer has caught up; print how long it took
"""
import json, sys, time, urllib.request

port, key, what = sys.argv[1], sys.argv[2], sys.argv[3]


def get(path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {key}"})
    return urllib.request.urlopen(req, timeout=60).read().decode()


def buckets():
    out = {}
    for line in get("/metrics").splitlines():
        if line.startswith('leadgate_change_lag_seconds_bucket{') and 'consumer="scoring"' in line:
            le = line.split('le="')[1].split('"')[0]
            out[le] = float(line.rsplit(" ", 1)[1])
    return out


if what == "snapshot":
    json.dump(buckets(), open(sys.argv[4], "w"))
elif what == "since":
    before = json.load(open(sys.argv[4]))
    now = buckets()
    diff = sorted(((float("inf") if le == "+Inf" else float(le), n - before.get(le, 0)) for le, n in now.items()))
    total = diff[-1][1] if diff else 0
    if total == 0:
        print("feed lag: no entries handled")
    else:
        def q(p):
            return next(le for le, n in diff if n >= p * total)
        within = next((n for le, n in diff if le == 0.1), 0) / total
        fmt = lambda s: "> 10 s" if s == float("inf") else f"<= {s * 1000:g} ms"
        print(f"feed lag (commit -> scored): {int(total):,} entries, p50 {fmt(q(0.5))}, p99 {fmt(q(0.99))}, "
              f"{100 * within:.2f} % within 100 ms")
elif what == "wait":
    started = time.monotonic()
    while True:
        c = json.loads(get("/v1/consumers"))["consumers"]
        if c and all(x["caught_up"] for x in c):
            break
        time.sleep(0.05)
    print(f"scoring caught up in {time.monotonic() - started:.1f} s")
