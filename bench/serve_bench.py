#!/usr/bin/env python3
"""Serving benchmark for `llm serve` (continuous batching): N concurrent clients, fixed prompts,
max_tokens each, greedy and streamed. Prints, per N, the aggregate generated tokens/s and the
per-request latency (median, p95) and time to first token, as a markdown table; with --pp it
also runs `llm bench` for the prompt-processing rate of the same model and threads and prints
the ratios issue 13 asks about (8 streams vs pp, 8 streams vs 1).

    python3 bench/serve_bench.py -m tl-q4km.gguf -t 2 --pp
    python3 bench/serve_bench.py -m ../shared/models/stories260K.gguf -n 64 --clients 1,4,8,16

Starts `build/llm serve` itself on a free loopback port (--parallel = the largest N), unless
--url points at a running server. Python 3 standard library only."""
import argparse, http.client, json, os, re, statistics, subprocess, sys, threading, time

PROMPTS = [
    'Once upon a time, in a small village by the sea, there lived a girl who loved to',
    'The little dog ran across the garden because it had seen a bird sitting on the',
    'Tom and his sister went to the park with a big red ball. When they arrived they saw',
    'In the morning the sun was shining and the children wanted to play outside, so they',
    'A cat named Max liked to sleep on the warm window sill. One day he heard a noise and',
    'The old man had a boat. Every day he went out to catch fish, and one morning he found',
    'Lily wanted to draw a picture of her family. She took her pencils and her paper and',
    'There was a big tree in the forest where many animals lived together. The owl said',
]


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return float('nan')
    k = (len(xs) - 1) * p
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


def one_request(host, port, prompt, max_tokens, out):
    t0 = time.perf_counter()
    c = http.client.HTTPConnection(host, port, timeout=600)
    body = json.dumps({'prompt': prompt, 'max_tokens': max_tokens, 'temperature': 0, 'stream': True})
    c.request('POST', '/v1/completions', body, {'Content-Type': 'application/json'})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError('HTTP %d: %s' % (r.status, r.read()[:200]))
    ttft, usage, buf, events = None, None, b'', []
    while True:
        chunk = r.read1(65536) if hasattr(r, 'read1') else r.read(1)
        if not chunk:
            break
        buf += chunk
        while b'\n\n' in buf:
            ev, buf = buf.split(b'\n\n', 1)
            if not ev.startswith(b'data: ') or ev == b'data: [DONE]':
                continue
            d = json.loads(ev[6:])
            if d['choices'] and d['choices'][0].get('text'):
                now = time.perf_counter()
                events.append(now)
                if ttft is None:
                    ttft = now - t0
            if 'usage' in d:
                usage = d['usage']
    c.close()
    t1 = time.perf_counter()
    out.append({'latency': t1 - t0, 'ttft': ttft if ttft is not None else t1 - t0,
                'tokens': usage['completion_tokens'] if usage else 0, 'events': events})


def steady_rate(res, n_clients):
    """Generated tokens/s while all n_clients streams generate at once: the spans in which
    n_clients requests are between their first text event and their last, and the text events
    that fall in them (an event carries at least one token, so this undercounts a little).
    Leaves out the time in which prompts are processed beside fewer generating streams."""
    edges = []
    for r in res:
        if len(r['events']) >= 2:
            edges.append((r['events'][0], 1))
            edges.append((r['events'][-1], -1))
    edges.sort()
    spans, active, start = [], 0, None
    for t, d in edges:
        active += d
        if active == n_clients and d == 1:
            start = t
        elif start is not None and active < n_clients:
            spans.append((start, t))
            start = None
    dur = sum(b - a for a, b in spans)
    if dur <= 0:
        return float('nan'), 0.0
    # an event at a span's start is the last stream's first token: its prompt ended there
    count = sum(1 for r in res for e in r['events'] for a, b in spans if a < e <= b)
    return count / dur, dur


def run_level(host, port, n_clients, per_client, max_tokens):
    results, errors = [], []

    def client(i):
        for k in range(per_client):
            try:
                one_request(host, port, PROMPTS[(i + k * n_clients) % len(PROMPTS)], max_tokens, results)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return results, errors, wall


def pp_rate(llm, model, threads, n_prompt):
    cmd = [llm, 'bench', '-m', model, '-p', str(n_prompt), '-n', '1', '-r', '3', '--json']
    if threads:
        cmd += ['-t', str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out)['runs'][0]['pp_tps']


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('-m', '--model', help='GGUF model (the server is started with it)')
    ap.add_argument('--url', help='a running server, http://HOST:PORT (then -m is only for --pp)')
    ap.add_argument('--llm', default='build/llm')
    ap.add_argument('-t', '--threads', type=int, default=0, help='server threads (0: its default)')
    ap.add_argument('-c', '--ctx', type=int, default=512, help='tokens per stream')
    ap.add_argument('-n', '--max-tokens', type=int, default=128)
    ap.add_argument('--clients', default='1,4,8,16')
    ap.add_argument('--requests', type=int, default=2, help='requests per client at each level')
    ap.add_argument('--pp', action='store_true', help='also measure the prompt rate with llm bench')
    ap.add_argument('--pp-tokens', type=int, default=128)
    ap.add_argument('--prompt-cache', type=int, default=0,
                    help="the server's --prompt-cache (default 0: every level computes its prompts, "
                         "none taken from an earlier level's requests)")
    a = ap.parse_args()
    levels = [int(x) for x in a.clients.split(',')]
    proc = None
    if a.url:
        mm = re.match(r'http://([^:/]+):(\d+)', a.url)
        host, port = mm.group(1), int(mm.group(2))
    else:
        if not a.model:
            ap.error('-m MODEL or --url is needed')
        cmd = [a.llm, 'serve', '-m', a.model, '--host', '127.0.0.1', '--port', '0', '--parallel', str(max(levels)),
               '-c', str(a.ctx), '--queue', '256', '--prompt-cache', str(a.prompt_cache)]
        if a.threads:
            cmd += ['-t', str(a.threads)]
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        host, port = '127.0.0.1', None
        deadline = time.time() + 120
        while port is None and time.time() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            mm = re.search(r'http://127\.0\.0\.1:(\d+)', line)
            if mm:
                port = int(mm.group(1))
        if port is None:
            proc.kill()
            sys.exit('the server did not start')
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    try:
        warm = []
        one_request(host, port, PROMPTS[0], 4, warm)
        print('model: %s, max_tokens %d, %d requests per client, server threads %s' %
              (a.model or a.url, a.max_tokens, a.requests, a.threads or 'default'))
        print()
        print('| clients | requests | generated tokens | wall s | aggregate gen tok/s | all streams generating: tok/s (s) '
              '| latency median s | latency p95 s | TTFT median s |')
        print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
        rates, steady = {}, {}
        for n in levels:
            res, errs, wall = run_level(host, port, n, a.requests, a.max_tokens)
            toks = sum(r['tokens'] for r in res)
            lat = [r['latency'] for r in res]
            rates[n] = toks / wall if wall > 0 else 0.0
            steady[n], sdur = steady_rate(res, n)
            print('| %d | %d | %d | %.2f | %.2f | %.2f (%.1f) | %.3f | %.3f | %.3f |' % (
                n, len(res), toks, wall, rates[n], steady[n], sdur, statistics.median(lat) if lat else float('nan'),
                percentile(lat, 0.95), statistics.median([r['ttft'] for r in res]) if res else float('nan')))
            sys.stdout.flush()
            for e in errs[:3]:
                print('  error: %s' % e)
        if a.pp and a.model:
            pp = pp_rate(a.llm, a.model, a.threads, a.pp_tokens)
            print()
            print('llm bench pp%d: %.2f tokens/s' % (a.pp_tokens, pp))
            if 8 in rates:
                print('8 streams: %.2f x the prompt rate over the whole run, prompts included; '
                      '%.2f x while all 8 generate (aim >= 0.8)' % (rates[8] / pp, steady[8] / pp))
                if 1 in rates and rates[1] > 0:
                    print('8 streams: %.2f x one stream over the whole run, %.2f x while generating (aim >= 1.5)' %
                          (rates[8] / rates[1], steady[8] / steady[1]))
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == '__main__':
    main()
