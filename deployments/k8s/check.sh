#!/usr/bin/env bash
# Render every overlay with `kubectl kustomize` (offline) and validate each
# object strictly with tools/k8scheck (upstream k8s.io/api types + CRD structs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp -r "$root/deployments/k8s" "$tmp/k8s"
# The dev overlay's secrets.env is never committed: render with the example.
cp "$tmp/k8s/overlays/dev/secrets.env.example" "$tmp/k8s/overlays/dev/secrets.env"
(cd "$root/tools/k8scheck" && go build -o "$tmp/k8scheck" .)
for overlay in dev prod; do
  echo "k8s: $overlay"
  kubectl kustomize "$tmp/k8s/overlays/$overlay" > "$tmp/$overlay.yaml"
  "$tmp/k8scheck" -alerts "$root/deployments/prometheus/alerts.yaml" < "$tmp/$overlay.yaml"
done
