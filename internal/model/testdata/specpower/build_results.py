"""Builds results.csv and ../tdp/quattor.csv.

Inputs (public):
  /tmp/spec2026.csv: `git show b0032d928c787cf76cecd7d1d611c5b46f366e29:data/SPECpower-2026-03-09.csv`
      of github.com/cloud-carbon-footprint/ccf-coefficients
  /tmp/q/hardware/cpu: `git archive 6fa9032a527be9118c9ff384099e9da74eab1834 hardware/cpu`
      of github.com/quattor/template-library-standard, unpacked in /tmp/q
Run from the repository root: python3 internal/model/testdata/specpower/build_results.py
"""
import csv, json, re, os, sys

def parse_quattor(root):
    out = {}
    for d, _, fs in os.walk(os.path.join(root, 'hardware/cpu')):
        for f in fs:
            if not f.endswith('.pan'):
                continue
            p = os.path.join(d, f)
            t = open(p, errors='replace').read()
            rec = {}
            for k in ['manufacturer', 'model', 'speed', 'cores', 'max_threads', 'type', 'power']:
                m = re.search(r'"%s"\s*=\s*("?)([^";#\n]*)\1' % k, t)
                if m:
                    rec[k] = m.group(2).strip()
            rec['path'] = os.path.relpath(p, root)
            out[rec['path']] = rec
    return out

spec = list(csv.DictReader(open('/tmp/spec2026.csv')))
q = parse_quattor('/tmp/q')
byname = {os.path.basename(p)[:-4]: d for p, d in q.items()}

def key(desc):
    """quattor file stem candidates for a SPECpower CPU description"""
    s = desc.lower()
    s = re.sub(r'\((r|tm)\)|®|™', ' ', s)
    s = s.replace(',', ' ')
    s = re.sub(r'\s+', ' ', s).strip()
    s = re.sub(r'([0-9a-z]) (v\d)\b', r'\1\2', s)
    s = s.replace('xeon-d ', 'd-')
    s = re.sub(r' (he|ee)\b', r'\1', s)
    c = []
    m = re.search(r'\b(e[357])-(\d{4}[a-z0-9]*)', s)
    if m: c.append('xeon_%s_%s' % (m.group(1), m.group(2)))
    m = re.search(r'\be-(\d{4}[a-z]*)', s)
    if m: c.append('xeon_e_%s' % m.group(1))
    m = re.search(r'\bd-(\d{4}[a-z]*)', s)
    if m: c.append('xeon_d_%s' % m.group(1))
    m = re.search(r'\b(gold|platinum|silver|bronze) (\d{4}[a-z+]*)', s)
    if m: c.append('xeon_%s_%s' % (m.group(1), m.group(2))); c.append('xeon_%s_%s' % (m.group(1), m.group(2).replace('+', '')))
    m = re.search(r'\b([lxe]\d{4}[a-z]*)\b', s)
    if m: c.append('xeon_%s' % m.group(1))
    m = re.search(r'xeon (?:processor )?(\d{4}[a-z+]*)', s)
    if m: c.append('xeon_%s' % m.group(1)); c.append('xeon_%s' % m.group(1).replace('+', ''))
    m = re.search(r'xeon (?:gold )?(6\d{3}e)', s)
    if m: c.append('xeon_%s' % m.group(1))
    m = re.search(r'xeon (\d{4}\+)', s)
    if m: c.append('xeon_platinum_%s' % m.group(1))
    m = re.search(r'epyc (\d{4}[a-z]*)', s)
    if m: c.append('epyc_%s' % m.group(1))
    m = re.search(r'opteron(?:\(r\))?(?: processor)? (\d{4})(?: ?([a-z]{2}))?', s)
    if m: c.append('opteron_%s%s' % (m.group(1), m.group(2) or ''))
    m = re.search(r'altra max .*?(m\d+-\d+)', s)
    if m: c.append('altra_max_%s' % m.group(1))
    m = re.search(r'core i(\d)[ -](\d{3,4}[a-z]*)', s)
    if m: c.append('core_i%s_%s' % (m.group(1), m.group(2)))
    return c

rows = []
miss = {}
for x in spec:
    cands = key(x['CPU Description'])
    hit = next((byname[c] for c in cands if c in byname and byname[c].get('power')), None)
    if hit is None:
        miss[x['CPU Description']] = cands
    rows.append((x, hit))
print('matched', sum(1 for _, h in rows if h), 'of', len(rows), file=sys.stderr)
for k, v in sorted(miss.items()): print('MISS', k, v, file=sys.stderr)
json.dump([[x, h] for x, h in rows], open('/tmp/matched.json', 'w'))

curves = {r['ccf_row'] for r in csv.DictReader(open('internal/model/testdata/specpower/curves.csv'))}
COMMIT_CCF = 'b0032d928c787cf76cecd7d1d611c5b46f366e29'
COMMIT_Q = '6fa9032a527be9118c9ff384099e9da74eab1834'
used = set()
out = csv.writer(open('internal/model/testdata/specpower/results.csv', 'w', newline=''), lineterminator='\n')
out.writerow(['ccf_row','system','cpu','chips','cores','tpc','mhz','memory_gb','idle_w','full_w','published','exclude','note','tdp_w','tdp_source'])
for x, h in rows:
    row = x['']
    psu = x['Power Supply Details'].strip()
    exclude = ''
    if psu == 'Shared':
        exclude = 'multi-node enclosure (power supply "Shared")'
    elif psu == '':
        exclude = 'multi-node enclosure (no power supply of its own named)'
    elif row in curves:
        exclude = 'full load curve in curves.csv (evaluated there)'
    note = []
    cores = int(x['# Cores']); chips = int(x['Chips']); tpc = int(x['# Threads Per Core'])
    mem = float(x['Total Memory (GB)'])
    if mem < 8 and cores >= 64:
        note.append('memory reported as %g, taken as %g TB' % (mem, mem))
        mem *= 1024
    if int(x['Total Threads']) != cores * tpc:
        note.append('export Total Threads %s != cores x threads per core' % x['Total Threads'])
    tdp = src = ''
    if h:
        tdp = h['power']; src = h['path'] + '@' + COMMIT_Q[:12]
        used.add(h['path'])
    out.writerow([row, x['System'], x['CPU Description'].strip(), chips, cores, tpc, x['Processor MHz'], '%g' % mem,
                  x['avg. watts @ active idle'], x['avg. watts @ 100%'], x['Published'], exclude, '; '.join(note), tdp, src])
qo = csv.writer(open('internal/model/testdata/tdp/quattor.csv', 'w', newline=''), lineterminator='\n')
qo.writerow(['path','model','speed_mhz','cores','threads','tdp_w','specpower'])
n=0
for p, d in sorted(q.items()):
    if not d.get('power') or not d.get('cores') or not d.get('model'): continue
    try: float(d['power']); int(d['cores'])
    except ValueError: continue
    qo.writerow([p, d['model'], d.get('speed',''), d['cores'], d.get('max_threads',''), d['power'], 1 if p in used else 0]); n+=1
print('quattor rows', n, 'used', len(used), file=sys.stderr)
