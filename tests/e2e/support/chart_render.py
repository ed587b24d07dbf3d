#!/usr/bin/env python3
"""Checks what `helm template` rendered from charts/dpm, parsed as YAML.

    helm template REL charts/dpm -n NS [--set ...] | chart_render.py MODE NS CLUSTERROLE.yaml

MODE is the certificate mode the values asked for: selfManaged, certManager
or existingSecret.  Checks what issue 12 asks of the chart, object by object
(the webhook configurations' settings and namespaceSelector, the RBAC of
each mode, restricted pod security, probes, resources, replicas and leader
election, the PodDisruptionBudget and spread, the Service's keys, the
operator's ClusterRole equal to CLUSTERROLE.yaml's rules).  Prints one line
per problem and exits 1 when there is any; prints "rendered N objects: ok"
and exits 0 otherwise.
"""
import sys

import yaml

mode, ns, role_file = sys.argv[1:4]
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
problems = []


def want(cond, what):
    if not cond:
        problems.append(what)


def objs(kind):
    return [d for d in docs if d.get('kind') == kind]


def one(kind, suffix):
    found = [d for d in objs(kind) if d['metadata']['name'].endswith(suffix)]
    want(len(found) == 1, '%s *%s: want 1, got %d' % (kind, suffix, len(found)))
    return found[0] if found else {}


def dig(o, *path):
    for k in path:
        if isinstance(o, list):
            o = o[k] if isinstance(k, int) and k < len(o) else None
        elif isinstance(o, dict):
            o = o.get(k)
        else:
            return None
    return o


kinds = sorted(d['kind'] for d in docs)
# ---- workloads ----
op = one('Deployment', '-operator')
wh = one('Deployment', '-webhook')
want(dig(op, 'spec', 'replicas') == 2, 'operator replicas: %r' % dig(op, 'spec', 'replicas'))
want(dig(wh, 'spec', 'replicas') == 2, 'webhook replicas: %r' % dig(wh, 'spec', 'replicas'))
op_c = dig(op, 'spec', 'template', 'spec', 'containers', 0) or {}
wh_c = dig(wh, 'spec', 'template', 'spec', 'containers', 0) or {}
op_args = op_c.get('args', [])
wh_args = wh_c.get('args', [])
want(op_args[:1] == ['operator'] and '--leader-elect' in op_args and
     '--leader-election-namespace=%s' % ns in op_args, 'operator args: %r' % op_args)
want(wh_args[:1] == ['webhook'], 'webhook args: %r' % wh_args)
for name, d, c in (('operator', op, op_c), ('webhook', wh, wh_c)):
    ps = dig(d, 'spec', 'template', 'spec') or {}
    want(ps.get('serviceAccountName', '').endswith('-' + name), '%s serviceAccountName' % name)
    psc = ps.get('securityContext', {})
    want(psc.get('runAsNonRoot') is True and dig(psc, 'seccompProfile', 'type') == 'RuntimeDefault',
         '%s pod securityContext: %r' % (name, psc))
    sc = c.get('securityContext', {})
    want(sc.get('readOnlyRootFilesystem') is True and sc.get('allowPrivilegeEscalation') is False and
         sc.get('runAsNonRoot') is True and dig(sc, 'capabilities', 'drop') == ['ALL'] and
         dig(sc, 'seccompProfile', 'type') == 'RuntimeDefault', '%s container securityContext: %r' % (name, sc))
    want(dig(c, 'resources', 'requests', 'cpu') and dig(c, 'resources', 'limits', 'memory'),
         '%s resources: %r' % (name, c.get('resources')))
    for probe, path in (('livenessProbe', '/healthz'), ('readinessProbe', '/readyz')):
        want(dig(c, probe, 'httpGet', 'path') == path, '%s %s: %r' % (name, probe, c.get(probe)))
    for p in c.get('ports', []):
        want(p.get('protocol') == 'TCP', '%s port %r without protocol' % (name, p))
    want(c.get('image', '').endswith(':' + d['metadata']['labels']['app.kubernetes.io/version']),
         '%s image tag is not the appVersion: %r' % (name, c.get('image')))
    want(dig(ps, 'affinity', 'podAntiAffinity') is not None, '%s pod anti-affinity' % name)
want(dig(wh_c, 'livenessProbe', 'httpGet', 'scheme') == 'HTTPS', 'webhook probes over HTTPS')
spread = dig(wh, 'spec', 'template', 'spec', 'topologySpreadConstraints') or []
want(spread and spread[0].get('whenUnsatisfiable') and spread[0].get('topologyKey'), 'webhook spread: %r' % spread)
pdb = one('PodDisruptionBudget', '-webhook')
want(dig(pdb, 'spec', 'minAvailable') == 1 and
     dig(pdb, 'spec', 'selector', 'matchLabels', 'app.kubernetes.io/component') == 'webhook', 'PDB: %r' % pdb.get('spec'))

# ---- Service: every associative-list key set ----
svc = one('Service', '-webhook')
ports = dig(svc, 'spec', 'ports') or []
want(ports and all(p.get('protocol') == 'TCP' and p.get('port') for p in ports), 'webhook Service ports: %r' % ports)
want(ports and ports[0].get('port') == 443, 'webhook Service on 443')

# ---- webhook configurations ----
vwc = one('ValidatingWebhookConfiguration', '-validate')
mwc = one('MutatingWebhookConfiguration', '-mutate')
hooks = (vwc.get('webhooks') or []) + (mwc.get('webhooks') or [])
want(sorted(h.get('name') for h in hooks) ==
     ['mutate.dataproducts.mesh.io', 'validate.dataproducts.mesh.io', 'validate.meshpolicies.mesh.io'],
     'webhook names: %r' % [h.get('name') for h in hooks])
for h in hooks:
    n = h.get('name')
    want(h.get('failurePolicy') == 'Fail', '%s failurePolicy' % n)
    want(h.get('timeoutSeconds') == 5, '%s timeoutSeconds' % n)
    want(h.get('sideEffects') == 'None', '%s sideEffects' % n)
    want(h.get('admissionReviewVersions') == ['v1'], '%s admissionReviewVersions' % n)
    want(h.get('matchPolicy') == 'Equivalent', '%s matchPolicy' % n)
    cc = h.get('clientConfig', {})
    want(dig(cc, 'service', 'name') == svc.get('metadata', {}).get('name') and
         dig(cc, 'service', 'namespace') == ns and dig(cc, 'service', 'port') == 443,
         '%s clientConfig.service: %r' % (n, cc))
    if mode == 'existingSecret':
        want(cc.get('caBundle'), '%s: no caBundle with an existing Secret' % n)
    else:
        want('caBundle' not in cc, '%s: a caBundle in the chart would fight its writer (%s)' % (n, mode))
    if n.endswith('dataproducts.mesh.io'):
        sel = h.get('namespaceSelector', {}).get('matchExpressions', [])
        want(sel == [{'key': 'kubernetes.io/metadata.name', 'operator': 'NotIn', 'values': ['kube-system', ns]}],
             '%s namespaceSelector: %r' % (n, sel))
for cfg in (vwc, mwc):
    ann = dig(cfg, 'metadata', 'annotations') or {}
    want(dig(cfg, 'metadata', 'labels', 'app.kubernetes.io/name') == 'dpm', 'configuration label name=dpm')
    if mode == 'certManager':
        want(ann.get('cert-manager.io/inject-ca-from', '').startswith(ns + '/'), 'cainjector annotation: %r' % ann)
    else:
        want('cert-manager.io/inject-ca-from' not in ann, 'cainjector annotation without cert-manager')

# ---- certificates ----
secret_mounts = [v for v in dig(wh, 'spec', 'template', 'spec', 'volumes') or [] if 'secret' in v]
if mode == 'selfManaged':
    want(any(a.startswith('--self-signed-secret=%s/' % ns) for a in wh_args) and
         '--service-name=%s' % svc['metadata']['name'] in wh_args, 'self-managed args: %r' % wh_args)
    want(not secret_mounts, 'no Secret volume when self-managed')
    want(not objs('Certificate') and not objs('Issuer'), 'no cert-manager objects when self-managed')
else:
    want('--cert-dir=/etc/dpm/tls' in wh_args, '%s: --cert-dir: %r' % (mode, wh_args))
    want(len(secret_mounts) == 1, '%s: one Secret volume' % mode)
if mode == 'certManager':
    cert = one('Certificate', '-webhook')
    want(dig(cert, 'spec', 'secretName') == dig(secret_mounts, 0, 'secret', 'secretName'),
         'Certificate secretName is the mounted Secret')
    want('%s.%s.svc' % (svc['metadata']['name'], ns) in (dig(cert, 'spec', 'dnsNames') or []),
         'Certificate names the Service: %r' % dig(cert, 'spec', 'dnsNames'))
    want(len(objs('Issuer')) == 1, 'self-signed Issuer')

# ---- RBAC ----
role_rules = yaml.safe_load(open(role_file))['rules']
op_role = one('ClusterRole', '-operator')
want(op_role.get('rules') == role_rules, 'operator ClusterRole differs from %s' % role_file)
wh_role = one('ClusterRole', '-webhook')
wh_rules = wh_role.get('rules', [])
want(wh_rules and wh_rules[0] == {'apiGroups': ['mesh.io'], 'resources': ['meshpolicies'],
                                  'verbs': ['get', 'list', 'watch']}, 'webhook reads MeshPolicies: %r' % wh_rules)
roles = objs('Role')
if mode == 'selfManaged':
    want(len(wh_rules) == 3, 'webhook ClusterRole: MeshPolicies + configurations: %r' % wh_rules)
    want(wh_rules[2:] and wh_rules[2].get('resourceNames') ==
         [vwc['metadata']['name'], mwc['metadata']['name']], 'update narrowed to the two configurations')
    want(len(roles) == 1 and roles[0]['rules'][1].get('resourceNames') == [dig(wh_args and [a for a in wh_args if a.startswith('--self-signed-secret=')], 0).split('/')[1]],
         'Secret Role narrowed to its Secret: %r' % roles)
else:
    want(len(wh_rules) == 1, '%s: the webhook only reads MeshPolicies: %r' % (mode, wh_rules))
    want(not roles, '%s: no Secret Role' % mode)
for b in objs('ClusterRoleBinding') + objs('RoleBinding'):
    want(dig(b, 'subjects', 0, 'namespace') == ns, '%s subject namespace' % b['metadata']['name'])

# ---- helm test hook ----
tests = [d for d in docs if dig(d, 'metadata', 'annotations', 'helm.sh/hook') == 'test']
want(len(tests) == 1 and tests[0]['kind'] == 'MeshPolicy', 'one test hook, a MeshPolicy: %r' % [t['kind'] for t in tests])

if problems:
    print('\n'.join(problems))
    sys.exit(1)
print('rendered %d objects: ok (%s)' % (len(docs), ' '.join(kinds)))
