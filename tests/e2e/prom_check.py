#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check a Prometheus text exposition (version 0.0.4) on stdin: every
sample belongs to a family announced by # HELP and # TYPE before it, each
family once; metric and label names match [a-zA-Z_:][a-zA-Z0-9_:]* (labels
without the colon); label values are quoted; values are numbers; counters
end in _total. Optional PREFIX: every name starts with it. Prints one
'# ok:' line, or the faults and exits 1."""
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')
SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def main():
    prefix = sys.argv[1] if len(sys.argv) > 1 else ''
    bad, helped, typed, done = [], {}, {}, set()
    current, samples = None, 0
    for n, line in enumerate(sys.stdin.read().split('\n'), 1):
        if not line:
            continue
        where = 'line %d' % n
        if line.startswith('# HELP '):
            parts = line.split(' ', 3)
            name = parts[2] if len(parts) > 2 else ''
            if not NAME.match(name):
                bad.append('%s: HELP of a bad name %r' % (where, name))
            if name in helped:
                bad.append('%s: second HELP of %s' % (where, name))
            if len(parts) < 4 or not parts[3].strip():
                bad.append('%s: HELP of %s has no text' % (where, name))
            if current and current != name:
                done.add(current)
            helped[name] = n
            current = name
            continue
        if line.startswith('# TYPE '):
            parts = line.split(' ')
            if len(parts) != 4 or parts[3] not in ('counter', 'gauge', 'untyped',
                                                   'histogram', 'summary'):
                bad.append('%s: a bad TYPE line %r' % (where, line))
                continue
            name = parts[2]
            if name != current:
                bad.append('%s: TYPE of %s not right after its HELP' % (where, name))
            if name in typed:
                bad.append('%s: second TYPE of %s' % (where, name))
            typed[name] = parts[3]
            if parts[3] == 'counter' and not name.endswith('_total'):
                bad.append('%s: counter %s does not end in _total' % (where, name))
            continue
        if line.startswith('#'):
            continue
        m = SAMPLE.match(line)
        if not m:
            bad.append('%s: not a sample: %r' % (where, line))
            continue
        name, labels, value = m.groups()
        if name != current or name not in typed:
            bad.append('%s: sample of %s outside its family (HELP and TYPE first)'
                       % (where, name))
        if name in done:
            bad.append('%s: %s again after another family' % (where, name))
        if prefix and not name.startswith(prefix):
            bad.append('%s: %s does not start with %s' % (where, name, prefix))
        if labels:
            inner = labels[1:-1]
            rest = LABEL.sub('', inner).replace(',', '')
            if rest.strip():
                bad.append('%s: bad labels %s' % (where, labels))
        try:
            float(value)
        except ValueError:
            bad.append('%s: value %r is not a number' % (where, value))
        samples += 1
    if not samples:
        bad.append('no sample at all')
    for b in bad[:20]:
        print('prom_check: ' + b)
    if bad:
        sys.exit(1)
    print('# ok: %d families, %d samples, well formed' % (len(helped), samples))


main()
