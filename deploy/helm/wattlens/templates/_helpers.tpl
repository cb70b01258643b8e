{{/* Chart name, cut to the 63 characters a label allows. */}}
{{- define "wattlens.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: the release name, with the chart's unless it holds it. */}}
{{- define "wattlens.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "wattlens.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wattlens.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wattlens.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "wattlens.labels" -}}
helm.sh/chart: {{ include "wattlens.chart" . }}
{{ include "wattlens.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "wattlens.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "wattlens.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "wattlens.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The pod source of container names: kubelet, apiServer or none. */}}
{{- define "wattlens.podSource" -}}
{{- if .Values.containers.enabled }}
{{- .Values.containers.source }}
{{- else }}
{{- "none" }}
{{- end }}
{{- end }}

{{/* Whether the pod needs a service-account token (to ask for pod names). */}}
{{- define "wattlens.needsToken" -}}
{{- if has (include "wattlens.podSource" .) (list "kubelet" "apiServer") }}true{{ end }}
{{- end }}

{{/*
The prometheus exporter's flags for container and pod labels. Container
IDs come from /proc/<pid>/cgroup; names from the kubelet or the API server
(internal/container), which finds this node through NODE_NAME and HOST_IP
(downward API) and authenticates with the service-account token.

cmd/wattlens accepts only --containers so far. When it gains the flags
that choose the pod source, add them here, and only here, e.g. for the
kubelet: --containers.kubelet-url=https://$(HOST_IP):10250 plus its CA or
insecure-skip-verify; for the API server: the node-scoped list. No Docker
socket is mounted: on a Kubernetes node names come from the kubelet.
deploy/deploy_test.go checks that every flag rendered here is one the
binary knows.
*/}}
{{- define "wattlens.containerArgs" -}}
{{- $source := include "wattlens.podSource" . }}
{{- if not (has $source (list "kubelet" "apiServer" "none")) }}
{{- fail (printf "containers.source must be kubelet, apiServer or none, not %q" $source) }}
{{- end }}
{{- if .Values.containers.enabled }}
- --containers
{{- end }}
{{- end }}
