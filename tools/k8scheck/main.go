// Command k8scheck validates rendered Kubernetes manifests offline: every
// object is decoded strictly (unknown fields fail) into the upstream
// k8s.io/api type or the minimal CRD struct of crds.go, and the repository's
// deployment rules are checked (pinned images, securityContext, probes, no
// HPA next to a ScaledObject, PrometheusRule = deployments/prometheus/alerts.yaml).
//
//	kubectl kustomize deployments/k8s/overlays/prod | go run ./tools/k8scheck -alerts deployments/prometheus/alerts.yaml
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/Secret":
		return &corev1.Secret{}, true
	case "v1/Service":
		return &corev1.Service{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}, true
	case "batch/v1/Job":
		return &batchv1.Job{}, true
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}, true
	case "rabbitmq.com/v1beta1/RabbitmqCluster":
		return &rabbitmqCluster{}, true
	case "rabbitmq.com/v1beta1/Policy":
		return &rabbitmqPolicy{}, true
	case "postgresql.cnpg.io/v1/Cluster":
		return &cnpgCluster{}, true
	case "postgresql.cnpg.io/v1/Pooler":
		return &cnpgPooler{}, true
	case "keda.sh/v1alpha1/ScaledObject":
		return &scaledObject{}, true
	case "keda.sh/v1alpha1/TriggerAuthentication":
		return &triggerAuthentication{}, true
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &serviceMonitor{}, true
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &prometheusRule{}, true
	case "external-secrets.io/v1beta1/ExternalSecret":
		return &externalSecret{}, true
	}
	return nil, false
}

func strictJSON(doc []byte, into any) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

func main() {
	alerts := flag.String("alerts", "", "Prometheus rules file the PrometheusRule must equal")
	flag.Parse()
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var want *ruleGroups
	if *alerts != "" {
		b, err := os.ReadFile(*alerts)
		if err == nil {
			want = &ruleGroups{}
			err = strictJSON(b, want)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "k8scheck: %s: %v\n", *alerts, err)
			os.Exit(2)
		}
	}
	n, errs := check(in, want)
	for _, e := range errs {
		fmt.Fprintln(os.Stderr, "k8scheck:", e)
	}
	if len(errs) > 0 || n == 0 {
		fmt.Fprintf(os.Stderr, "k8scheck: %d objects, %d problems\n", n, len(errs))
		os.Exit(1)
	}
	fmt.Printf("k8scheck: %d objects valid\n", n)
}

// check validates every document of a rendered multi-document stream.
func check(in []byte, wantRules *ruleGroups) (int, []error) {
	var errs []error
	var n int
	hpaTargets, scaledTargets := map[string]bool{}, map[string]bool{}
	sawRule := false
	for _, doc := range bytes.Split(in, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct{ Name string }
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", n+1, err))
			continue
		}
		n++
		id := head.Kind + "/" + head.Metadata.Name
		obj, ok := newObject(head.APIVersion, head.Kind)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no schema for %s %s", id, head.APIVersion, head.Kind))
			continue
		}
		if err := strictJSON(doc, obj); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			errs = append(errs, checkPod(id, o.Spec.Template.Spec, true)...)
		case *appsv1.StatefulSet:
			errs = append(errs, checkPod(id, o.Spec.Template.Spec, false)...)
		case *batchv1.Job:
			errs = append(errs, checkPod(id, o.Spec.Template.Spec, false)...)
			if o.Spec.TTLSecondsAfterFinished == nil {
				errs = append(errs, fmt.Errorf("%s: no ttlSecondsAfterFinished", id))
			}
		case *corev1.ServiceAccount:
			if o.AutomountServiceAccountToken == nil || *o.AutomountServiceAccountToken {
				errs = append(errs, fmt.Errorf("%s: automountServiceAccountToken must be false", id))
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			hpaTargets[o.Spec.ScaleTargetRef.Name] = true
		case *scaledObject:
			scaledTargets[o.Spec.ScaleTargetRef.Name] = true
			for _, tr := range o.Spec.Triggers {
				if tr.AuthenticationRef == nil {
					errs = append(errs, fmt.Errorf("%s: %s trigger without authenticationRef", id, tr.Type))
				}
			}
		case *prometheusRule:
			sawRule = true
			if wantRules != nil && !reflect.DeepEqual(o.Spec, *wantRules) {
				errs = append(errs, fmt.Errorf("%s: groups differ from the alerts file; regenerate base/prometheusrule.yaml", id))
			}
		}
	}
	for t := range hpaTargets {
		if scaledTargets[t] {
			errs = append(errs, fmt.Errorf("%s: both an HPA and a KEDA ScaledObject", t))
		}
	}
	if wantRules != nil && !sawRule {
		errs = append(errs, errors.New("no PrometheusRule rendered"))
	}
	return n, errs
}

// checkPod enforces the pod rules: pinned images, non-root seccomp pod
// context, hardened containers with resources, and (for Deployments, which
// are FundiGO's long-running roles) readiness and liveness probes.
func checkPod(id string, p corev1.PodSpec, probes bool) []error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf("%s: "+f, append([]any{id}, a...)...)) }
	if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
		bad("automountServiceAccountToken must be false")
	}
	sc := p.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		bad("pod securityContext needs runAsNonRoot and seccomp RuntimeDefault")
	}
	for _, c := range append(append([]corev1.Container{}, p.InitContainers...), p.Containers...) {
		img := c.Image
		name := img[strings.LastIndex(img, "/")+1:]
		if !strings.Contains(img, "@sha256:") && (!strings.Contains(name, ":") || strings.HasSuffix(name, ":latest")) {
			bad("container %s: image %q is not pinned (tag or digest, never latest)", c.Name, img)
		}
		s := c.SecurityContext
		if s == nil || s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation ||
			s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem ||
			s.Capabilities == nil || len(s.Capabilities.Drop) != 1 || s.Capabilities.Drop[0] != "ALL" {
			bad("container %s: securityContext needs allowPrivilegeEscalation=false, readOnlyRootFilesystem, drop ALL", c.Name)
		}
		if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			bad("container %s: memory request and limit required", c.Name)
		}
		if probes && (c.ReadinessProbe == nil || c.LivenessProbe == nil) {
			bad("container %s: readiness and liveness probes required", c.Name)
		}
	}
	return errs
}
