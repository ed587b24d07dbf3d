{{/* Object name prefix: RELEASE-dpm, or RELEASE when it already contains the chart name. */}}
{{- define "dpm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "dpm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object.  app.kubernetes.io/name=dpm is also what `dpm webhook`
     selects the webhook configurations by when it writes their caBundle. */}}
{{- define "dpm.labels" -}}
app.kubernetes.io/name: {{ include "dpm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: include "dpm.selector" (list . "operator") */}}
{{- define "dpm.selector" -}}
{{- $ctx := index . 0 -}}
app.kubernetes.io/name: {{ include "dpm.name" $ctx }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "dpm.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "dpm.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (printf "%s-operator" (include "dpm.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dpm.webhook.serviceAccountName" -}}
{{- if .Values.webhook.serviceAccount.create -}}
{{- default (printf "%s-webhook" (include "dpm.fullname" .)) .Values.webhook.serviceAccount.name -}}
{{- else -}}
{{- required "webhook.serviceAccount.name is required when webhook.serviceAccount.create is false" .Values.webhook.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The webhook Service's name: the serving certificate must name it. */}}
{{- define "dpm.webhook.service" -}}
{{- printf "%s-webhook" (include "dpm.fullname" .) -}}
{{- end -}}

{{/* selfManaged | certManager | existingSecret, refusing two at once. */}}
{{- define "dpm.certMode" -}}
{{- if and .Values.certManager.enabled .Values.existingSecret.name -}}
{{- fail "set either certManager.enabled or existingSecret.name, not both" -}}
{{- else if .Values.certManager.enabled -}}
certManager
{{- else if .Values.existingSecret.name -}}
existingSecret
{{- else -}}
selfManaged
{{- end -}}
{{- end -}}

{{/* The Secret holding the serving certificate (tls.crt, tls.key, ca.crt). */}}
{{- define "dpm.webhook.tlsSecret" -}}
{{- if .Values.existingSecret.name -}}
{{- .Values.existingSecret.name -}}
{{- else -}}
{{- printf "%s-webhook-tls" (include "dpm.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "dpm.validatingConfig" -}}
{{- printf "%s-validate" (include "dpm.fullname" .) -}}
{{- end -}}
{{- define "dpm.mutatingConfig" -}}
{{- printf "%s-mutate" (include "dpm.fullname" .) -}}
{{- end -}}

{{/* Restricted pod security (Pod Security Standards "restricted"). */}}
{{- define "dpm.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}
{{- define "dpm.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The clientConfig of one webhook: the Service, or webhook.url; the caBundle only
     with an existing Secret (self-managed: dpm webhook writes it; cert-manager: its
     CA injector does).  include "dpm.clientConfig" (list . "/validate") */}}
{{- define "dpm.clientConfig" -}}
{{- $ctx := index . 0 -}}
{{- $path := index . 1 -}}
{{- if $ctx.Values.webhook.url }}
url: {{ printf "%s%s" (trimSuffix "/" $ctx.Values.webhook.url) $path | quote }}
{{- else }}
service:
  name: {{ include "dpm.webhook.service" $ctx }}
  namespace: {{ $ctx.Release.Namespace }}
  path: {{ $path }}
  port: 443
{{- end }}
{{- if eq (include "dpm.certMode" $ctx) "existingSecret" }}
caBundle: {{ required "existingSecret.caBundle (base64 PEM of the CA of the Secret) is required with existingSecret.name" $ctx.Values.existingSecret.caBundle }}
{{- end }}
{{- end -}}

{{/* Exempt namespaces by the label only the API server sets (Kubernetes >= 1.21). */}}
{{- define "dpm.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
{{- range (append .Values.webhook.exemptNamespaces .Release.Namespace | uniq) }}
      - {{ . | quote }}
{{- end }}
{{- end -}}

{{/* A component's affinity: the values' own, or soft anti-affinity across nodes.
     include "dpm.affinity" (list . "webhook" .Values.webhook.affinity) */}}
{{- define "dpm.affinity" -}}
{{- $ctx := index . 0 -}}
{{- if index . 2 -}}
{{- toYaml (index . 2) -}}
{{- else -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "dpm.selector" (list $ctx (index . 1)) | nindent 12 }}
{{- end -}}
{{- end -}}

{{/* The webhook's spread over zones, unless the values give their own. */}}
{{- define "dpm.webhook.spread" -}}
{{- if .Values.webhook.topologySpreadConstraints -}}
{{- toYaml .Values.webhook.topologySpreadConstraints -}}
{{- else -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "dpm.selector" (list . "webhook") | nindent 6 }}
{{- end -}}
{{- end -}}

{{/* cert-manager's issuer: the values' own, or the chart's self-signed Issuer. */}}
{{- define "dpm.certManager.issuerRef" -}}
{{- if .Values.certManager.issuerRef -}}
{{- toYaml .Values.certManager.issuerRef -}}
{{- else -}}
name: {{ include "dpm.fullname" . }}-selfsigned
kind: Issuer
{{- end -}}
{{- end -}}
