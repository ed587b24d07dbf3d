#!/usr/bin/env python3
"""Checks that Helm chart templates set every key field of the associative
lists that Kubernetes 1.20's server-side apply requires.

    tests/e2e/support/chart_keys.py CHART_DIR...

kube-apiserver 1.20 (structured-merge-diff v4.0) refuses a server-side apply
whose associative-list element omits a key field, even one with a default:

    failed to create typed patch object: .spec.ports: element 0:
    associative list with keys has an element that omits key field "protocol"

helm 4 installs server-side, so a chart that leaves `protocol` to its
default installs on current Kubernetes and fails on 1.20.  This reads every
templates/*.yaml of each chart as text (template actions on lines of their
own are dropped, inline {{ ... }} become a placeholder: every branch of an
if/else is checked, no helm needed) and checks, per kind:

  Service                   spec.ports[*]: port, protocol
  pod specs (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
  CronJob)                  containers/initContainers/ephemeralContainers[*]: name;
                            their ports[*]: containerPort, protocol; env[*]: name;
                            volumeMounts[*]: mountPath; volumes[*]: name;
                            imagePullSecrets[*]: name

Prints one line per finding ("FILE: KIND NAME: PATH: no "KEY" ...") and
exits 1 when there is any, 2 when a template cannot be read; 0 otherwise.
"""
import os
import re
import sys

import yaml

# actions that print nothing: control flow, comments, variable assignments, fail
ACTION_LINE = re.compile(r'^\s*\{\{-?\s*(if|else|end|range|with|define|template|include|fail|/\*|-?\s*/\*|\$\w+\s*:?=).*\}\}\s*$')
INLINE = re.compile(r'\{\{.*?\}\}')
POD_SPEC = {
    'Pod': ['spec'],
    'Deployment': ['spec', 'template', 'spec'],
    'StatefulSet': ['spec', 'template', 'spec'],
    'DaemonSet': ['spec', 'template', 'spec'],
    'ReplicaSet': ['spec', 'template', 'spec'],
    'Job': ['spec', 'template', 'spec'],
    'CronJob': ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
}


def detemplate(text):
    out = []
    for line in text.splitlines():
        if ACTION_LINE.match(line):
            continue
        out.append(INLINE.sub('TEMPLATE', line))
    return '\n'.join(out)


def dig(obj, path):
    for k in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def need(findings, where, lst, path, keys):
    if not isinstance(lst, list):
        return
    for i, e in enumerate(lst):
        if not isinstance(e, dict):
            continue
        for k in keys:
            if k not in e:
                findings.append('%s: %s[%d]: no "%s" (a key of this list: Kubernetes 1.20 '
                                'refuses a server-side apply without it)' % (where, path, i, k))


def check_doc(doc, where, findings):
    kind = doc.get('kind')
    if kind == 'Service':
        need(findings, where, dig(doc, ['spec', 'ports']), '.spec.ports', ['port', 'protocol'])
    if kind in POD_SPEC:
        base = POD_SPEC[kind]
        spec = dig(doc, base)
        if not isinstance(spec, dict):
            return
        p = '.' + '.'.join(base)
        for field in ('containers', 'initContainers', 'ephemeralContainers'):
            cs = spec.get(field)
            need(findings, where, cs, '%s.%s' % (p, field), ['name'])
            if not isinstance(cs, list):
                continue
            for i, c in enumerate(cs):
                if not isinstance(c, dict):
                    continue
                cp = '%s.%s[%d]' % (p, field, i)
                need(findings, where, c.get('ports'), cp + '.ports', ['containerPort', 'protocol'])
                need(findings, where, c.get('env'), cp + '.env', ['name'])
                need(findings, where, c.get('volumeMounts'), cp + '.volumeMounts', ['mountPath'])
        need(findings, where, spec.get('volumes'), p + '.volumes', ['name'])
        need(findings, where, spec.get('imagePullSecrets'), p + '.imagePullSecrets', ['name'])


def main(argv):
    if not argv:
        print('usage: chart_keys.py CHART_DIR...', file=sys.stderr)
        return 2
    findings = []
    files = 0
    for chart in argv:
        tdir = os.path.join(chart, 'templates')
        if not os.path.isdir(tdir):
            print('%s: no templates/ directory' % chart, file=sys.stderr)
            return 2
        for root, _, names in os.walk(tdir):
            for n in sorted(names):
                if not n.endswith(('.yaml', '.yml')):
                    continue
                f = os.path.join(root, n)
                files += 1
                with open(f, encoding='utf-8') as fh:
                    text = detemplate(fh.read())
                try:
                    docs = list(yaml.safe_load_all(text))
                except yaml.YAMLError as e:
                    print('%s: cannot read as YAML once template actions are removed: %s' % (f, e),
                          file=sys.stderr)
                    return 2
                for d in docs:
                    if isinstance(d, dict):
                        name = dig(d, ['metadata', 'name'])
                        check_doc(d, '%s: %s %s' % (f, d.get('kind'), name), findings)
    for line in findings:
        print(line)
    print('checked %d template file(s) in %d chart(s): %d finding(s)' % (files, len(argv), len(findings)))
    return 1 if findings else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
