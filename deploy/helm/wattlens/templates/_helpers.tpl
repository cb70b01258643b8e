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
The prometheus exporter's --containers flags: container and pod labels on
the process series, and container, pod and service series. Container IDs
and pod UIDs come from /proc/<pid>/cgroup (the host's procfs); names from
the pod source (internal/container, docs/containers.md):
  kubelet:   --containers.kubelet, at https://$(HOST_IP):10250 unless
             containers.kubelet.url says otherwise ($(HOST_IP) is expanded
             by the kubelet from the downward-API variable), verified with
             containers.kubelet.caFile, else not verified (kubelet serving
             certificates are self-signed unless serverTLSBootstrap is on;
             the connection goes to this node's own IP, never leaves it).
  apiServer: --containers.apiserver: this node's pods (NODE_NAME) from the
             in-cluster API server, verified with the in-cluster CA.
  none:      IDs only.
The service-account token is the binary's default token file. No Docker
socket is mounted, so the Docker source is turned off: on a Kubernetes node
names come from Kubernetes. deploy/deploy_test.go checks that every flag
rendered here is one the binary knows.
*/}}
{{- define "wattlens.containerArgs" -}}
{{- $source := include "wattlens.podSource" . }}
{{- if not (has $source (list "kubelet" "apiServer" "none")) }}
{{- fail (printf "containers.source must be kubelet, apiServer or none, not %q" $source) }}
{{- end }}
{{- if .Values.containers.enabled }}
{{- $kubelet := .Values.containers.kubelet | default dict }}
- --containers
- --containers.docker-socket=none
{{- if eq $source "kubelet" }}
- --containers.kubelet
- {{ printf "--containers.kubelet-url=%s" ($kubelet.url | default "https://$(HOST_IP):10250") | quote }}
{{- if $kubelet.caFile }}
- {{ printf "--containers.ca-file=%s" $kubelet.caFile | quote }}
{{- else if $kubelet.insecureSkipVerify }}
- --containers.insecure-skip-verify
{{- end }}
{{- else if eq $source "apiServer" }}
- --containers.apiserver
{{- end }}
{{- end }}
{{- end }}
