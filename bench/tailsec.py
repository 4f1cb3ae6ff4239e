"""Helper of bench/tail-ceiling.sh.

sample PID SERVER_CPU LOAD_CPU SECONDS: every 0.5 s print the wall time,
the run-queue wait and CPU of PID's threads (/proc/PID/task/*/schedstat,
seconds) and the busy seconds of both cores (/proc/stat), cumulative.

summary DIR: per run (callbid-bench JSON reports in DIR) the p99 of the
service time, and per second the service p99 beside the share of the
servers' core used by other processes (core busy - the server's CPU); then
per server the rank correlation of the two and the median per-second p99
in seconds when others used under 10 % of the core and when they used 30 %
or more.
"""
import bisect, datetime, glob, json, math, os, sys, time


def sample(pid, server_cpu, load_cpu, secs):
    tck = os.sysconf('SC_CLK_TCK')
    end = time.time() + float(secs)
    while time.time() < end:
        wait = run = 0
        for f in glob.glob('/proc/%s/task/*/schedstat' % pid):
            try:
                a = open(f).read().split()
                run += int(a[0]); wait += int(a[1])
            except OSError:
                pass
        busy = {}
        for l in open('/proc/stat'):
            p = l.split()
            if p[0] in ('cpu' + server_cpu, 'cpu' + load_cpu):
                v = [int(x) for x in p[1:]]
                busy[p[0]] = (sum(v) - v[3] - v[4]) / tck
        print('%.3f %.6f %.6f %.3f %.3f' % (time.time(), wait / 1e9, run / 1e9,
              busy.get('cpu' + server_cpu, 0), busy.get('cpu' + load_cpu, 0)), flush=True)
        time.sleep(0.5)


def at(rows, t, k):
    ts = [r[0] for r in rows]
    i = bisect.bisect_left(ts, t)
    if i <= 0:
        return rows[0][k]
    if i >= len(rows):
        return rows[-1][k]
    a, b = rows[i - 1], rows[i]
    return a[k] + (t - a[0]) / (b[0] - a[0]) * (b[k] - a[k]) if b[0] > a[0] else a[k]


def ranks(x):
    r = [0] * len(x)
    for k, i in enumerate(sorted(range(len(x)), key=lambda i: x[i])):
        r[i] = k
    return r


def summary(d):
    per = {}
    files = sorted(glob.glob(os.path.join(d, '*.json')), key=lambda f: json.load(open(f))['started_at'])
    for f in files:
        name = os.path.basename(f)[:-5]
        r = json.load(open(f))
        t0 = datetime.datetime.fromisoformat(r['started_at'][:26].rstrip('Z') + '+00:00').timestamp()
        res = r['result']
        rows = [tuple(map(float, l.split())) for l in open(os.path.join(d, name + '.samples')) if l.strip()]
        print('%-7s service p50 %.2f p99 %.2f p99.9 %.2f ms; %.2f of its core, %.1f us per answer' % (
            name, res['service']['p50_ms'], res['service']['p99_ms'], res['service']['p99_9_ms'],
            res['target_cpu_cores'], res.get('target_cpu_us_per_answer', 0)))
        line = []
        for p in res['series']:
            if p.get('warmup'):
                continue
            te, tb = t0 + p['t'], t0 + p['t'] - 1
            others = (at(rows, te, 3) - at(rows, tb, 3)) - (at(rows, te, 2) - at(rows, tb, 2))
            per.setdefault(name.split('.')[0], []).append((p['service_p99_ms'], others))
            line.append('%.1f/%.2f' % (p['service_p99_ms'], max(others, 0)))
        print('        per second (service p99 ms / others\' share of the core): ' + ' '.join(line))
    for k, v in per.items():
        a, b = ranks([x[0] for x in v]), ranks([x[1] for x in v])
        m = (len(v) - 1) / 2
        den = math.sqrt(sum((x - m) ** 2 for x in a) * sum((y - m) ** 2 for y in b))
        rho = sum((x - m) * (y - m) for x, y in zip(a, b)) / den if den else 0
        med = lambda s: '%.2f ms' % sorted(s)[len(s) // 2] if s else '-'
        quiet = [x[0] for x in v if x[1] < 0.10]
        busy = [x[0] for x in v if x[1] >= 0.30]
        print('%-5s %3d s: rank correlation of the per-second service p99 with the others\' share %.2f; '
              'others < 10%%: %d s, median p99 %s; others >= 30%%: %d s, median p99 %s' % (
                  k, len(v), rho, len(quiet), med(quiet), len(busy), med(busy)))


if __name__ == '__main__':
    if sys.argv[1] == 'sample':
        sample(*sys.argv[2:6])
    else:
        summary(sys.argv[2])
