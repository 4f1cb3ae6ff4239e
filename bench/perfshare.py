"""Share of a process's CPU samples by goroutine kind, from perf.

    perf record -q -g -e cpu-clock -F 2999 -p PID -o p.data -- sleep 6
    perf script -i p.data | python3 bench/perfshare.py

Each sample is put in the first kind whose marker appears in its stack
(request path, Kafka client, background loops, GC, the runtime's sysmon and
scheduler). perf rather than Go's profiler: Go's per-thread CPU timers
over-count goroutines woken by a ticker (README "Performance").
"""
import collections, re, sys

KINDS = [  # (kind, markers): first match wins
    ('request path (fasthttp workers)', ('fasthttp.(*workerPool)', 'serveConn')),
    ('kafka-go connections (produce, fetch)', ('kafka-go.(*conn).run', 'kafka-go.(*partitionWriter)', 'kafka-go.(*Writer)')),
    ('kafkaio producer lanes', ('kafkaio.(*lane)',)),
    ('kafkaio consumers', ('kafkaio.(*Consumer)', 'kafkaio.(*Dispatch', 'kafkaio.NewDispatch')),
    ('numbers.Pools.Run (hold passes, sweeps)', ('numbers.(*Pools).Run',)),
    ('feedback aggregator', ('feedback.(*Feedback).aggregate',)),
    ('feedback (other)', ('feedback.',)),
    ('ristretto (traffic caches, before session 6)', ('ristretto',)),
    ('capacity', ('capacity.',)),
    ('GC', ('gcBgMarkWorker', 'gcDrain', 'bgsweep', 'bgscavenge')),
    ('sysmon (runtime monitor thread)', ('runtime.sysmon',)),
    ('scheduler, netpoll', ('runtime.mcall', 'runtime.schedule', 'findRunnable', 'runtime.park_m')),
]

cnt, total = collections.Counter(), 0
for block in sys.stdin.read().split('\n\n'):
    lines = [l.strip() for l in block.strip().split('\n')[1:] if l.strip()]
    if not lines:
        continue
    total += 1
    text = ' '.join(re.sub(r'^[0-9a-f]+\s+', '', l) for l in lines)
    cnt[next((k for k, ms in KINDS if any(m in text for m in ms)), 'other')] += 1
for k, v in cnt.most_common():
    print('%6.2f%%  %s' % (100.0 * v / total, k))
print('samples', total)
