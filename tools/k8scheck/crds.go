package main

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Minimal, strict structs for the CRDs the manifests use: only the fields
// this repository sets (plus a few neighbours), so a misspelt or misplaced
// field fails the strict decode. Extend them when a manifest needs more.

type crdMeta struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
}

type rabbitmqCluster struct {
	crdMeta
	Spec struct {
		Replicas    *int32                       `json:"replicas,omitempty"`
		Image       string                       `json:"image,omitempty"`
		Resources   *corev1.ResourceRequirements `json:"resources,omitempty"`
		Persistence *struct {
			StorageClassName *string `json:"storageClassName,omitempty"`
			Storage          string  `json:"storage,omitempty"`
		} `json:"persistence,omitempty"`
		Rabbitmq *struct {
			AdditionalConfig  string   `json:"additionalConfig,omitempty"`
			AdditionalPlugins []string `json:"additionalPlugins,omitempty"`
		} `json:"rabbitmq,omitempty"`
	} `json:"spec"`
}

type rabbitmqPolicy struct {
	crdMeta
	Spec struct {
		Name                     string         `json:"name"`
		Vhost                    string         `json:"vhost,omitempty"`
		Pattern                  string         `json:"pattern"`
		ApplyTo                  string         `json:"applyTo,omitempty"`
		Priority                 int            `json:"priority,omitempty"`
		Definition               map[string]any `json:"definition"`
		RabbitmqClusterReference struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace,omitempty"`
		} `json:"rabbitmqClusterReference"`
	} `json:"spec"`
}

type cnpgCluster struct {
	crdMeta
	Spec struct {
		Instances       int                          `json:"instances"`
		ImageName       string                       `json:"imageName,omitempty"`
		MinSyncReplicas int                          `json:"minSyncReplicas,omitempty"`
		MaxSyncReplicas int                          `json:"maxSyncReplicas,omitempty"`
		Storage         *struct{ Size string }       `json:"storage,omitempty"`
		Resources       *corev1.ResourceRequirements `json:"resources,omitempty"`
		PostgreSQL      *struct {
			Parameters map[string]string `json:"parameters,omitempty"`
		} `json:"postgresql,omitempty"`
		Bootstrap *struct {
			InitDB *struct {
				Database string `json:"database,omitempty"`
				Owner    string `json:"owner,omitempty"`
			} `json:"initdb,omitempty"`
		} `json:"bootstrap,omitempty"`
		Monitoring *struct {
			EnablePodMonitor bool `json:"enablePodMonitor,omitempty"`
		} `json:"monitoring,omitempty"`
	} `json:"spec"`
}

type cnpgPooler struct {
	crdMeta
	Spec struct {
		Cluster   struct{ Name string } `json:"cluster"`
		Instances *int32                `json:"instances,omitempty"`
		Type      string                `json:"type,omitempty"`
		PgBouncer struct {
			PoolMode   string            `json:"poolMode,omitempty"`
			Parameters map[string]string `json:"parameters,omitempty"`
		} `json:"pgbouncer"`
	} `json:"spec"`
}

type kedaAuthRef struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
}

type scaledObject struct {
	crdMeta
	Spec struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion,omitempty"`
			Kind       string `json:"kind,omitempty"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		Triggers        []struct {
			Type              string            `json:"type"`
			Name              string            `json:"name,omitempty"`
			MetricType        string            `json:"metricType,omitempty"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *kedaAuthRef      `json:"authenticationRef,omitempty"`
		} `json:"triggers"`
	} `json:"spec"`
}

type triggerAuthentication struct {
	crdMeta
	Spec struct {
		SecretTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"secretTargetRef,omitempty"`
	} `json:"spec"`
}

type serviceMonitor struct {
	crdMeta
	Spec struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port,omitempty"`
			Path          string `json:"path,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type ruleGroups struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []struct {
			Alert       string            `json:"alert,omitempty"`
			Record      string            `json:"record,omitempty"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

type prometheusRule struct {
	crdMeta
	Spec ruleGroups `json:"spec"`
}

type externalSecret struct {
	crdMeta
	Spec struct {
		RefreshInterval string `json:"refreshInterval,omitempty"`
		SecretStoreRef  struct {
			Kind string `json:"kind,omitempty"`
			Name string `json:"name"`
		} `json:"secretStoreRef"`
		Target struct {
			Name           string `json:"name,omitempty"`
			CreationPolicy string `json:"creationPolicy,omitempty"`
		} `json:"target"`
		DataFrom []struct {
			Extract *struct {
				Key string `json:"key"`
			} `json:"extract,omitempty"`
		} `json:"dataFrom,omitempty"`
	} `json:"spec"`
}
