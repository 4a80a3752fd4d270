package fcm

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ServiceAccount is the part of a Google service-account key file the client
// uses. PrivateKey is a PEM block (PKCS#8 or PKCS#1); it is a secret and is
// never logged.
type ServiceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// ParseServiceAccount reads a service-account key file's JSON.
func ParseServiceAccount(b []byte) (ServiceAccount, error) {
	var sa ServiceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return ServiceAccount{}, fmt.Errorf("decode service account: %w", err)
	}
	if sa.ClientEmail == "" || sa.PrivateKey == "" {
		return ServiceAccount{}, errors.New("service account: client_email and private_key are required")
	}
	return sa, nil
}

// String hides the key so that printing an account is safe.
func (sa ServiceAccount) String() string {
	return fmt.Sprintf("service account %s (project %s)", sa.ClientEmail, sa.ProjectID)
}
