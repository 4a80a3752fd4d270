package mpesa

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// SecurityCredential encrypts the initiator password with the public key of
// certPEM (Safaricom's certificate, or the simulator's) as Daraja expects:
// RSA PKCS#1 v1.5, base64. The result differs on every call (random
// padding); Daraja decrypts it, so any of them is valid.
func SecurityCredential(certPEM []byte, password string) (string, error) {
	if password == "" {
		return "", errors.New("security credential: empty initiator password")
	}
	pub, err := certPublicKey(certPEM)
	if err != nil {
		return "", err
	}
	// Daraja decrypts the SecurityCredential as RSA PKCS #1 v1.5 and offers
	// no other padding, so the deprecated function is the protocol here.
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte(password)) //nolint:staticcheck // Daraja's SecurityCredential is PKCS #1 v1.5

	if err != nil {
		return "", fmt.Errorf("security credential: encrypt: %w", err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// certPublicKey returns the RSA key of the first certificate in certPEM.
func certPublicKey(certPEM []byte) (*rsa.PublicKey, error) {
	for rest := certPEM; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, errors.New("security credential: no PEM certificate found")
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("security credential: parse certificate: %w", err)
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("security credential: certificate key is not RSA")
		}
		return pub, nil
	}
}
